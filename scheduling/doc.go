// Package scheduling decides where every workload group goes and which WorkPlacements become
// misscheduled: pure functions over the API types, no Kubernetes client and no I/O.
package scheduling
