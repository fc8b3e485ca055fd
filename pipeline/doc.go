// Package pipeline holds the workflow contract (CONTRACT.md §6): the Jobs, ServiceAccounts and RBAC
// built from a Promise's Pipeline specs, and the decision of which pipeline of a workflow runs
// next. Everything here is a pure function over API types; the controllers do the reading and
// writing. The adapter logic that runs inside the Jobs lives in the adapter subpackage.
//
// The pieces:
//
//   - Workflow names one workflow (promise or resource, configure or delete) of one object;
//     Workflow.Pipelines, Workflow.Namespace and Workflow.Selector say which pipelines it runs,
//     where its Jobs live and how to find them.
//   - SpecHash is the digest of the Promise's spec and the request's spec that every Job carries
//     in its kratix.io/hash label.
//   - BuildJob builds the Job of one pipeline of one run; BuildAccess builds its ServiceAccount
//     and least-privilege RBAC: a resource request's pipeline runs as the request's own
//     ServiceAccount, on that request alone, and RequestSelector finds what the request's
//     pipelines leave behind.
//   - ObserveJob reduces an existing Job to a JobRecord, and Decide turns the records, the current
//     hash and the manual-reconciliation label into a Decision: start a pipeline, wait, fail or
//     finish, plus which old Jobs to delete.
//
// Runs. A run is one pass through a workflow's pipelines. Each Job carries the run's number in
// the kratix.io/workflow-run label: starting pipeline 0 opens run max+1, starting the next
// pipeline keeps the number. Jobs are ordered by (run, creation time, pipeline position), so
// one run's Jobs are told apart from another's even when they were created within the same
// second (creation timestamps have one-second resolution and a local pipeline can finish faster).
package pipeline
