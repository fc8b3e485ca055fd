// Package adapter is the logic of the engine's containers in a pipeline Job (CONTRACT.md §6):
// the kratix pipeline-adapter subcommands (cli.go) read the object and /kratix, call the pure
// functions here, and write the results through the Kubernetes API with the Job's service
// account.
//
//   - work-writer: BuildWorkSpec turns /kratix/output and destination-selectors.yaml into the
//     pipeline's WorkSpec, refusing unsafe or unparsable files; CheckSize keeps it within what the
//     API server accepts. The workload content encoding is api/v1alpha1's EncodeContent.
//   - status-writer: ParseStatusFile reads status.yaml and MergeStatus merges it into the
//     object's status, marking the configure workflow completed after its last pipeline.
package adapter
