package scheduling

import (
	"crypto/md5" //nolint:gosec // an identifier fixed by the contract, not a security measure
	"encoding/hex"

	"kratix.dev/kratix/api/v1alpha1"
)

// RootGroupID is the id of the default workload group: GroupID(v1alpha1.RootDirectory).
const RootGroupID = "5058f1af8388633f609cadb75a75dc9d"

// shortIDLength is how many characters of a group id appear in placement names and paths.
const shortIDLength = 5

// GroupID is the id of the workload group that holds directory: the hex MD5 of the directory
// (CONTRACT.md §3). An empty directory is the root directory ".".
func GroupID(directory string) string {
	if directory == "" {
		directory = v1alpha1.RootDirectory
	}
	sum := md5.Sum([]byte(directory)) //nolint:gosec // see import
	return hex.EncodeToString(sum[:])
}

// IsRootGroup reports whether id is the id of the default workload group.
func IsRootGroup(id string) bool {
	return id == RootGroupID
}

// shortID is the prefix of a group id used in names: its first five characters.
func shortID(id string) string {
	if len(id) < shortIDLength {
		return id
	}
	return id[:shortIDLength]
}
