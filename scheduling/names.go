package scheduling

import "kratix.dev/kratix/internal/names"

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
