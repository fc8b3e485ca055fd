// Package statestore holds the Writer interface through which files reach a state store, the
// Change a WorkPlacement or Destination asks a writer to make, the typed errors writers return, the
// path layout inside a store (CONTRACT.md §3), and path safety: every path is checked before
// anything is written. Its subpackages implement Writer for Git (go-git) and S3 (minio-go).
package statestore
