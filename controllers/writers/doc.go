// Package writers keeps one statestore.Writer per state store for the controllers. The
// state-store controller builds each writer from its store's spec and Secret (through a Factory)
// and marks it ready once it validated; the Destination and WorkPlacement controllers take ready
// writers from the Registry with Get. A writer is rebuilt only when its store's spec or Secret
// changes, a replaced writer is closed, and the Registry closes every writer when the manager
// stops.
package writers
