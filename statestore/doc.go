// Package statestore holds the Writer interface through which files reach a state store, the path
// layout inside a store, and path safety. Its subpackages implement it for Git and S3.
package statestore
