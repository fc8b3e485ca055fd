// Package scheduling decides where every workload group of a Work goes and which WorkPlacements
// become misscheduled: pure functions over the API types, no Kubernetes client and no I/O
// (CONTRACT.md §4 and §5).
//
// The pieces, in the order data flows through them:
//
//   - ParseDestinationSelectors reads a workflow's /kratix/metadata/destination-selectors.yaml and
//     BuildWorkloadGroups turns its entries and the Promise's selectors into the workload groups of
//     a Work (ids, directories and selectors; the work-writer fills in the files).
//   - GroupSelector resolves a workload group's selectors into one AND-ed label map, and Matches
//     says whether a Destination satisfies it.
//   - Place (or DestinationSet.Place, to reuse one index of the Destinations across many Works)
//     compares what a Work wants with the WorkPlacements that exist and returns a Plan: what to
//     create, update, mark or un-mark misscheduled, and delete.
//   - GroupID and PlacementName give the ids and names that everything else is keyed by;
//     names.Shorten keeps the placement names within Kubernetes' limits.
//
// Promise-level Works go to every matching Destination; each workload group of a resource-level
// Work goes to exactly one, chosen by rendezvous hashing (PlacementScore) and kept once chosen.
// A misscheduled WorkPlacement is frozen: no plan ever updates or deletes it.
package scheduling
