// Package adapter is the logic of the engine's containers in a pipeline Job (CONTRACT.md §6), as
// library functions with no Kubernetes client: the kratix pipeline-adapter subcommands read the
// object and the files, call these, and write the results.
//
//   - work-writer: BuildWorkSpec turns /kratix/output and destination-selectors.yaml into the
//     pipeline's WorkSpec, refusing unsafe or unparsable files; CheckSize keeps it within what the
//     API server accepts. EncodeContent and DecodeContent are the workload content encoding.
//   - status-writer: ParseStatusFile reads status.yaml and MergeStatus merges it into the
//     object's status, marking the configure workflow completed after its last pipeline.
package adapter
