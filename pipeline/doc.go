// Package pipeline holds the workflow contract: Jobs, ServiceAccounts and RBAC built from Pipeline
// specs, the decision of which pipeline runs next, the pipeline adapter, and the local job runner.
package pipeline
