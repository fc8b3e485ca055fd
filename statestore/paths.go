package statestore

import "strings"

// CleanPath checks a slash-separated path relative to a store's root and returns it in canonical
// form. It refuses what could land outside the root or confuse Git and GitOps tools: empty paths,
// absolute paths, "." and ".." segments, empty segments, backslashes, control characters and
// ".git" segments.
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
		case strings.EqualFold(seg, ".git"):
			return "", invalidPath(p, "names a .git directory")
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
