package scheduling

import (
	"crypto/sha256"
	"encoding/hex"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/names"
)

// PlacementName is the name of the WorkPlacement of a Work's workload group on a Destination:
// "<work>.<destination>" for the root group and "<work>.<destination>-<id[0:5]>" for a directory
// group, shortened with names.Shorten when it would be too long.
func PlacementName(workName, destinationName, groupID string) string {
	name := workName + "." + destinationName
	if !IsRootGroup(groupID) {
		name += "-" + shortID(groupID)
	}
	return names.Shorten(name)
}

// AlternatePlacementName is the name of a placement whose PlacementName another object holds.
// Work and Destination names may hold "." and "-", so one group's "<work>.<destination>-<id>"
// can be another's "<work>.<destination>", and Work "a.b" on Destination "c" shares "a.b.c"
// with Work "a" on Destination "b.c". It ends in a hash of the three parts, which in practice no
// other placement's name shares.
func AlternatePlacementName(workName, destinationName, groupID string) string {
	sum := sha256.Sum256([]byte(workName + "\x00" + destinationName + "\x00" + groupID))
	return names.Shorten(PlacementName(workName, destinationName, groupID) + "." + hex.EncodeToString(sum[:])[:alternateHashLength])
}

// alternateHashLength is how many hex characters of the hash end an AlternatePlacementName.
const alternateHashLength = 10

// IsPlacementOf reports whether wp is the placement of the Work's workload group groupID on the
// Destination destinationName.
func IsPlacementOf(wp *v1alpha1.WorkPlacement, work *v1alpha1.Work, groupID, destinationName string) bool {
	return belongsTo(wp, work) && wp.Spec.ID == groupID && wp.Spec.TargetDestinationName == destinationName
}
