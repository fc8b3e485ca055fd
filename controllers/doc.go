// Package controllers holds the thin reconcilers of the engine: they read state, call the
// scheduling, statestore and pipeline packages, and write status. SetupWithManager registers the
// ones that exist with a manager.
package controllers
