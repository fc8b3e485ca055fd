// Package names keeps the names and label values the engine derives from users' names within
// Kubernetes' limits, the one way every package does it: a name too long is cut and ends in a
// hash of the whole, so that it stays unique, deterministic and readable.
package names

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Kubernetes limits on what the engine generates.
const (
	// MaxLength is the longest object name (a DNS-1123 subdomain).
	MaxLength = 253
	// MaxLabelValueLength is the longest label value.
	MaxLabelValueLength = 63
)

// hashSuffixLength is how many hex characters of SHA-256 end a shortened name: 40 bits, enough
// that two long names sharing a prefix do not collide in practice.
const hashSuffixLength = 10

// Shorten returns name unchanged when it fits MaxLength, and otherwise a prefix of it followed
// by "-" and a hash of the whole name, MaxLength long at most. The result is deterministic and
// stays a valid DNS-1123 subdomain when name is one.
func Shorten(name string) string {
	return shorten(name, MaxLength)
}

// LabelValue returns value unchanged when it fits MaxLabelValueLength, and otherwise shortens it
// as Shorten does. Use it for every label value derived from a name.
func LabelValue(value string) string {
	return shorten(value, MaxLabelValueLength)
}

// MayBeShortened reports whether a label value can be LabelValue's shortening of a longer name,
// so that the object it names must be looked for among those whose LabelValue equals it; any
// other value is the name itself.
func MayBeShortened(value string) bool {
	if len(value) < hashSuffixLength {
		return false
	}
	suffix := value[len(value)-hashSuffixLength:]
	if strings.Trim(suffix, "0123456789abcdef") != "" {
		return false
	}
	// The prefix may be empty (a name made of separators up to the cut) or end in "-".
	return len(value) == hashSuffixLength || value[len(value)-hashSuffixLength-1] == '-'
}

// shorten keeps s when it fits limit; otherwise it keeps the longest prefix that leaves room for
// "-<hash>", trims separators off the prefix's end (a DNS label and a label value must end with an
// alphanumeric character) and appends the hash of all of s.
func shorten(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	suffix := hex.EncodeToString(sum[:])[:hashSuffixLength]
	prefix := strings.TrimRight(s[:limit-hashSuffixLength-1], "-._")
	if prefix == "" {
		return suffix
	}
	return prefix + "-" + suffix
}
