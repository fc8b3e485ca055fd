package statestore

import (
	"fmt"
	"strings"
)

// CleanPath checks a slash-separated path relative to a store's root and returns it in canonical
// form. It refuses what could land outside the root or confuse Git and GitOps tools: empty paths,
// absolute paths, "." and ".." segments, empty segments, backslashes, control characters, and
// segments that Git servers refuse or read as ".git", ".gitmodules" or ".gitattributes"
// (gitRefusedName).
func CleanPath(p string) (string, error) {
	if p == "" {
		return "", invalidPath(p, "is empty")
	}
	if strings.HasPrefix(p, "/") {
		return "", invalidPath(p, "is absolute")
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f {
			return "", invalidPath(p, "contains a control character")
		}
	}
	if strings.Contains(p, `\`) {
		return "", invalidPath(p, "contains a backslash")
	}
	p = strings.TrimSuffix(p, "/")
	for _, seg := range strings.Split(p, "/") {
		switch {
		case seg == "":
			return "", invalidPath(p, "has an empty segment")
		case seg == "..":
			return "", invalidPath(p, "escapes its root with ..")
		case seg == ".":
			return "", invalidPath(p, "has a . segment")
		}
		if why := gitRefusedName(seg); why != "" {
			return "", invalidPath(p, why)
		}
	}
	return p, nil
}

// Join joins path elements, each of which may hold several segments, and checks the result with
// CleanPath. Empty elements are skipped.
func Join(elems ...string) (string, error) {
	parts := make([]string, 0, len(elems))
	for _, e := range elems {
		// A directory may be written with a trailing slash ("dev/"); a leading one stays an error.
		if e = strings.TrimRight(e, "/"); e != "" {
			parts = append(parts, e)
		}
	}
	return CleanPath(strings.Join(parts, "/"))
}

// IsWithin reports whether the clean path p is dir itself or below it.
func IsWithin(dir, p string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// gitSpecialNames are the names Git gives meaning to inside a repository, lower-case. Git servers
// that check what they receive (receive.fsckObjects, as GitHub and GitLab do) refuse a push whose
// tree holds one of them in a disguise that some file system reads as the real name; .gitmodules
// and .gitattributes files are also parsed and checked. None belongs in a state store.
var gitSpecialNames = []string{".git", ".gitmodules", ".gitattributes"}

// gitRefusedName says why a path segment is a Git special name or one that a file system reads
// as one, or "" when it is neither:
//   - NTFS ignores trailing spaces and dots (".git ", ".git.") and reads a short 8.3 name
//     ("GIT~1", "GITMOD~1") or an alternate data stream (".git::$INDEX_ALLOCATION") as the file;
//   - HFS+ ignores some invisible Unicode code points (".g\u200cit").
func gitRefusedName(seg string) string {
	name := strings.ToLower(seg)
	if i := strings.Index(name, ":"); i >= 0 {
		name = name[:i] // an NTFS alternate data stream of the name before it
	}
	name = strings.TrimRight(name, " .")
	name = strings.Map(func(r rune) rune {
		if hfsIgnorable(r) {
			return -1
		}
		return r
	}, name)
	for _, special := range gitSpecialNames {
		if name == special || name == ntfsShortName(special) {
			return fmt.Sprintf("has the segment %q, which Git servers read as %s and refuse", seg, special)
		}
	}
	return ""
}

// ntfsShortName is the first 8.3 short name NTFS gives a Git special name: its first six
// characters after the dot, then "~1".
func ntfsShortName(special string) string {
	base := strings.TrimPrefix(special, ".")
	if len(base) > 6 {
		base = base[:6]
	}
	return base + "~1"
}

// hfsIgnorable reports whether HFS+ ignores the code point when it compares names.
func hfsIgnorable(r rune) bool {
	switch {
	case r >= 0x200c && r <= 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x206a && r <= 0x206f, r == 0xfeff:
		return true
	}
	return false
}

// PathsOverlap reports whether two directories of one store overlap: they are the same, or one
// holds the other. Paths that CleanPath refuses overlap nothing.
func PathsOverlap(a, b string) bool {
	a, errA := CleanPath(a)
	b, errB := CleanPath(b)
	if errA != nil || errB != nil {
		return false
	}
	return IsWithin(a, b) || IsWithin(b, a)
}
