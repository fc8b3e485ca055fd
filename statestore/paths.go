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
// CleanPath. Empty elements are skipped, and so are "/" and "." (a Destination at the store's
// root, DestinationDir).
func Join(elems ...string) (string, error) {
	parts := make([]string, 0, len(elems))
	for _, e := range elems {
		if IsRoot(e) {
			continue
		}
		// A directory may be written with a trailing slash ("dev/"); a leading one stays an error.
		if e = strings.TrimRight(e, "/"); e != "" {
			parts = append(parts, e)
		}
	}
	return CleanPath(strings.Join(parts, "/"))
}

// IsRoot reports whether a Destination's path names the root of its store: "/" or "." (as
// upstream Kratix has it), or "./".
func IsRoot(p string) bool {
	return p == "/" || p == "." || p == "./"
}

// DestinationDir is a Destination's directory relative to its store's root: "" for the root
// itself (IsRoot, or "" as DestinationDir returns it), else the path as CleanPath has it.
func DestinationDir(p string) (string, error) {
	if p == "" || IsRoot(p) {
		return "", nil
	}
	return CleanPath(p)
}

// Under is the path sub inside dir, a clean directory or "" for the root.
func Under(dir, sub string) string {
	if dir == "" {
		return sub
	}
	return dir + "/" + sub
}

// IsWithin reports whether the clean path p is dir itself or below it; everything is within
// the root, "".
func IsWithin(dir, p string) bool {
	return dir == "" || p == dir || strings.HasPrefix(p, dir+"/")
}

// gitSpecialName is a name Git gives meaning to inside a repository, with the NTFS short names
// that Git's fsck (path.c, is_ntfs_dotgit and is_ntfs_dot_generic) reads as it.
type gitSpecialName struct {
	// name is the name itself, lower-case, with its leading dot.
	name string
	// lastShortIndex is the last n of the short names "<first six characters>~n" Git reads as the
	// name: NTFS numbers them ~1 to ~4 before it falls back to hashed names. Git puts .git first
	// in its directory, so only its ~1 counts.
	lastShortIndex byte
	// hashPrefix is the six characters that begin the hashed short names NTFS falls back to
	// (as git's path.c spells them), or "" when Git reads no hashed name as the name.
	hashPrefix string
}

// gitSpecialNames are the names Git gives meaning to that may not appear in a state store. Git
// servers that check what they receive (receive.fsckObjects, as GitHub and GitLab do) refuse a
// push whose tree holds one of them in a disguise that some file system reads as the real name;
// .gitmodules and .gitattributes files are also parsed and checked, so a bad one in a batch makes
// the server refuse the whole push. None belongs in a state store. .gitignore is not among them:
// fsck refuses it only as a symbolic link, which a store never writes.
var gitSpecialNames = []gitSpecialName{
	{name: ".git", lastShortIndex: '1'},
	{name: ".gitmodules", lastShortIndex: '4', hashPrefix: "gi7eba"},
	{name: ".gitattributes", lastShortIndex: '4', hashPrefix: "gi7d29"},
}

// gitRefusedName says why a path segment is a Git special name or one that a file system reads
// as one, or "" when it is neither:
//   - NTFS ignores trailing spaces and dots (".git ", ".git.") and reads an alternate data stream
//     (".git::$INDEX_ALLOCATION") and a short 8.3 name as the file (ntfsShortNameOf);
//   - HFS+ ignores some invisible Unicode code points (".g\u200cit").
//
// It refuses every name Git's fsck reads as a special name, and a few more: it drops the HFS+
// code points before it looks for NTFS names too.
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
		if name == special.name || ntfsShortNameOf(name, special) {
			return fmt.Sprintf("has the segment %q, which Git servers read as %s and refuse", seg, special.name)
		}
	}
	return ""
}

// ntfsShortNameOf reports whether name, lower-case and without trailing spaces and dots, is an
// 8.3 short name that Git reads as the special name, as git's is_ntfs_dot_generic does:
//   - the first six characters of the name after its dot, a tilde and a digit from 1 to
//     special.lastShortIndex ("gitmod~1" to "gitmod~4");
//   - or a hashed short name: eight characters, the first k (k <= 6) of special.hashPrefix, a
//     tilde, a digit from 1 to 9, then digits ("gi7eba~1", "gi7eb~12", "gi7~1234", "~1234567").
//
// Anything else passes, as in Git: "gitmod~5", "gi7eba~10", "gitmod~1.yaml".
func ntfsShortNameOf(name string, special gitSpecialName) bool {
	base := strings.TrimPrefix(special.name, ".")
	if len(base) > 6 {
		base = base[:6]
	}
	if len(name) == len(base)+2 && strings.HasPrefix(name, base+"~") {
		if n := name[len(name)-1]; n >= '1' && n <= special.lastShortIndex {
			return true
		}
	}
	if special.hashPrefix == "" || len(name) != 8 {
		return false
	}
	tilde := strings.IndexByte(name, '~')
	if tilde < 0 || tilde > len(special.hashPrefix) || name[:tilde] != special.hashPrefix[:tilde] {
		return false
	}
	if name[tilde+1] < '1' || name[tilde+1] > '9' {
		return false
	}
	for i := tilde + 2; i < len(name); i++ {
		if name[i] < '0' || name[i] > '9' {
			return false
		}
	}
	return true
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
// holds the other; the root ("", "/" or ".") overlaps every directory. Paths that CleanPath
// refuses overlap nothing.
func PathsOverlap(a, b string) bool {
	a, errA := DestinationDir(a)
	b, errB := DestinationDir(b)
	if errA != nil || errB != nil {
		return false
	}
	return IsWithin(a, b) || IsWithin(b, a)
}
