package scheduling

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Kubernetes limits on what the engine generates.
const (
	// MaxNameLength is the longest object name (a DNS-1123 subdomain).
	MaxNameLength = 253
	// MaxLabelValueLength is the longest label value.
	MaxLabelValueLength = 63
)

// hashSuffixLength is how many hex characters of SHA-256 end a shortened name: 40 bits, enough
// that two long names sharing a prefix do not collide in practice.
const hashSuffixLength = 10

// PlacementName is the name of the WorkPlacement of a Work's workload group on a Destination:
// "<work>.<destination>" for the root group and "<work>.<destination>-<id[0:5]>" for a directory
// group, shortened with ShortenName when it would be too long.
func PlacementName(workName, destinationName, groupID string) string {
	name := workName + "." + destinationName
	if !IsRootGroup(groupID) {
		name += "-" + shortID(groupID)
	}
	return ShortenName(name)
}

// ShortenName returns name unchanged when it fits MaxNameLength, and otherwise a prefix of it
// followed by "-" and a hash of the whole name, MaxNameLength long at most. The result is
// deterministic and stays a valid DNS-1123 subdomain when name is one.
func ShortenName(name string) string {
	return shorten(name, MaxNameLength)
}

// LabelValue returns value unchanged when it fits MaxLabelValueLength, and otherwise shortens it
// as ShortenName does. Use it for every label value derived from a name.
func LabelValue(value string) string {
	return shorten(value, MaxLabelValueLength)
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
