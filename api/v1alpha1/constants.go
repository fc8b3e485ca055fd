package v1alpha1

import "time"

// Labels the engine sets (CONTRACT.md §2).
const (
	LabelPromiseName       = "kratix.io/promise-name"
	LabelResourceName      = "kratix.io/resource-name"
	LabelResourceNamespace = "kratix.io/resource-namespace"
	LabelPipelineName      = "kratix.io/pipeline-name"
	// LabelWorkflowType is promise or resource.
	LabelWorkflowType = "kratix.io/workflow-type"
	// LabelWorkflowAction is configure or delete.
	LabelWorkflowAction = "kratix.io/workflow-action"
	// LabelWorkType is promise, resource or static-dependency.
	LabelWorkType          = "kratix.io/work-type"
	LabelWork              = "kratix.io/work"
	LabelWorkloadGroupID   = "kratix.io/workload-group-id"
	LabelTargetDestination = "kratix.io/targetDestinationName"
	LabelMisscheduled      = "kratix.io/misscheduled"
	// LabelMisplaced is upstream Kratix's name for LabelMisscheduled. The engine acts on
	// LabelMisscheduled alone; it sets and removes LabelMisplaced together with it, so that
	// tooling written against upstream (kubectl get wp -l kratix.io/misplaced=true) keeps
	// working.
	LabelMisplaced      = "kratix.io/misplaced"
	LabelPromiseVersion = "kratix.io/promise-version"
	LabelHash           = "kratix.io/hash"
	// LabelWorkflowRun numbers the runs of an object's workflow on its Jobs: creation timestamps
	// have one-second resolution, too coarse to order the Jobs of a fast pipeline. Ours, beyond
	// CONTRACT.md §2.
	LabelWorkflowRun = "kratix.io/workflow-run"
	// LabelAggregateToManager marks the ClusterRoles that the engine creates for itself, one per
	// Promise API, which the install's aggregated ClusterRole kratix-manager-promise-apis
	// gathers: the manager gets access to resource requests of exactly the installed APIs.
	LabelAggregateToManager = "kratix.io/aggregate-to-manager"
	LabelManagedBy          = "app.kubernetes.io/managed-by"
	LabelManagedByValue     = "kratix"
	LabelMisscheduledValue  = "true"
	LabelTriggerValue       = "true"
	DefaultPlatformNS       = "kratix-platform-system"
	DefaultPipelineNSPrefix = "kratix-"
)

// Values of LabelWorkflowType, LabelWorkflowAction and LabelWorkType.
const (
	WorkflowTypePromise  = "promise"
	WorkflowTypeResource = "resource"

	WorkflowActionConfigure = "configure"
	WorkflowActionDelete    = "delete"

	WorkTypePromise          = "promise"
	WorkTypeResource         = "resource"
	WorkTypeStaticDependency = "static-dependency"
)

// Labels a user sets to trigger the engine; each takes the value "true".
const (
	// LabelManualReconciliation re-runs this object's workflow; removed when the run starts.
	LabelManualReconciliation = "kratix.io/manual-reconciliation"
	// LabelReconcileResources on a Promise re-runs the workflows of all its resource requests.
	LabelReconcileResources = "kratix.io/reconcile-resources"
	// LabelPaused stops the engine reconciling the object.
	LabelPaused = "kratix.io/paused"
	// LabelWorkflowSuspended: a pipeline suspended the object's workflow (workflow-control.yaml);
	// the engine sets it and starts no pipeline while it is there. Removing it resumes the
	// workflow at the pipeline that suspended it; a manual reconciliation or a change of the spec
	// runs the workflow from its start. A pipeline that asked for a retry has it removed when
	// the retry is due.
	LabelWorkflowSuspended = "kratix.io/workflow-suspended"
)

// Finalizers, one per concern (CONTRACT.md §2).
const (
	FinalizerDeleteWorkflows    = "kratix.io/delete-workflows"
	FinalizerWorkCleanup        = "kratix.io/work-cleanup"
	FinalizerAPICRDCleanup      = "kratix.io/api-crd-cleanup"
	FinalizerResourceRequests   = "kratix.io/resource-request-cleanup"
	FinalizerRepoCleanup        = "finalizers.workplacement.kratix.io/repo-cleanup"
	FinalizerDestinationCleanup = "kratix.io/destination-cleanup"
)

// Finalizers that upstream Kratix puts on objects and this engine does not use: their concern
// is covered by one of the engine's own (FinalizerWorkCleanup takes the Promise's dependency
// Works and a Work's placements down, FinalizerResourceRequests the requests). Objects created
// by upstream Kratix carry them; the engine removes them on sight, so that such an object can
// still be deleted once nothing handles them.
const (
	LegacyFinalizerDependenciesCleanup  = "kratix.io/dependencies-cleanup"
	LegacyFinalizerDynamicController    = "kratix.io/dynamic-controller-dependant-resources-cleanup"
	LegacyFinalizerWorkPlacementCleanup = "kratix.io/workplacements-cleanup"
	// LegacyFinalizerWorkflowsCleanup deletes a Promise's or request's workflow Jobs upstream;
	// here the Jobs are owned by their object and go with it.
	LegacyFinalizerWorkflowsCleanup = "kratix.io/workflows-cleanup"
	// LegacyFinalizerRevisionCleanup deletes upstream's PromiseRevisions, a kind this engine
	// does not have.
	LegacyFinalizerRevisionCleanup = "kratix.io/revision-cleanup"
	// LegacyFinalizerKratixDotFilesCleanup removes upstream's bookkeeping files of a
	// WorkPlacement; FinalizerRepoCleanup removes the engine's own.
	LegacyFinalizerKratixDotFilesCleanup = "finalizers.workplacement.kratix.io/kratix-dot-files-cleanup"
)

// Upstream Kratix's finalizers that the engine retires, by the kind that carries them.
var (
	LegacyPromiseFinalizers = []string{LegacyFinalizerDependenciesCleanup, LegacyFinalizerDynamicController,
		LegacyFinalizerWorkflowsCleanup, LegacyFinalizerRevisionCleanup}
	LegacyResourceFinalizers      = []string{LegacyFinalizerWorkflowsCleanup}
	LegacyWorkFinalizers          = []string{LegacyFinalizerWorkPlacementCleanup}
	LegacyWorkPlacementFinalizers = []string{LegacyFinalizerKratixDotFilesCleanup}
)

// Condition types (CONTRACT.md §7).
const (
	ConditionAvailable                  = "Available"
	ConditionConfigureWorkflowCompleted = "ConfigureWorkflowCompleted"
	ConditionWorksSucceeded             = "WorksSucceeded"
	ConditionReconciled                 = "Reconciled"
	ConditionReady                      = "Ready"
	ConditionScheduleSucceeded          = "ScheduleSucceeded"
	ConditionWriteSucceeded             = "WriteSucceeded"
	// ConditionRequirementsFulfilled: every Promise of spec.requiredPromises is installed at the
	// version named and Available (upstream Kratix's condition).
	ConditionRequirementsFulfilled = "RequirementsFulfilled"
)

// Condition reasons (CONTRACT.md §7). Every reason the engine writes is one of these.
const (
	// Promise.
	ReasonAvailable         = "Available"
	ReasonCRDNotEstablished = "CRDNotEstablished"
	ReasonInvalidAPI        = "InvalidAPI"
	ReasonRequirementsUnmet = "RequirementsUnmet"
	// ReasonRequirementsInstalled and ReasonRequirementsNotInstalled are the reasons of
	// RequirementsFulfilled (upstream Kratix's).
	ReasonRequirementsInstalled    = "RequirementsInstalled"
	ReasonRequirementsNotInstalled = "RequirementsNotInstalled"
	// ReasonRequirementsNotFulfilled: a resource request waits for its Promise's required
	// Promises; its workflows do not run.
	ReasonRequirementsNotFulfilled = "RequirementsNotFulfilled"

	// Workflows of Promises and resource requests.
	ReasonPipelinesInProgress           = "PipelinesInProgress"
	ReasonConfigureWorkflowFailed       = "ConfigureWorkflowFailed"
	ReasonPipelinesExecutedSuccessfully = "PipelinesExecutedSuccessfully"
	ReasonDeleteWorkflowFailed          = "DeleteWorkflowFailed"
	// ReasonWorkflowSuspended: a pipeline suspended the workflow, or the object carries
	// kratix.io/workflow-suspended=true.
	ReasonWorkflowSuspended = "WorkflowSuspended"
	// ReasonDeleteWorkflowSuspended: the same for a delete workflow.
	ReasonDeleteWorkflowSuspended = "DeleteWorkflowSuspended"
	// ReasonWorkflowResumed: a suspended workflow runs again (the label was removed or a retry
	// was due).
	ReasonWorkflowResumed = "WorkflowResumed"

	// Works of Promises and resource requests.
	ReasonWorksSucceeded = "WorksSucceeded"
	ReasonWorksPending   = "WorksPending"
	ReasonWorksFailing   = "WorksFailing"

	// Reconciled summary.
	ReasonReconciled  = "Reconciled"
	ReasonReconciling = "Reconciling"
	ReasonFailed      = "Failed"
	ReasonPaused      = "Paused"

	// Work and WorkPlacement scheduling.
	ReasonScheduled             = "Scheduled"
	ReasonNoMatchingDestination = "NoMatchingDestination"
	ReasonMisscheduled          = "Misscheduled"
	ReasonPlacementsPending     = "PlacementsPending"
	ReasonAllPlacementsReady    = "AllPlacementsReady"
	// ReasonWorkNotOwned: the Work is not in the namespace where its owner's workflows run,
	// so it may not write in that owner's name; nothing of it is scheduled.
	ReasonWorkNotOwned = "WorkNotOwned"

	// WorkPlacement writes.
	ReasonWriteSucceeded       = "WriteSucceeded"
	ReasonWriteFailed          = "WriteFailed"
	ReasonDestinationNotFound  = "DestinationNotFound"
	ReasonStateStoreNotFound   = "StateStoreNotFound"
	ReasonWritePending         = "WritePending"
	ReasonFrozenWhileMisplaced = "FrozenWhileMisscheduled"
	ReasonInvalidWorkloadPath  = "InvalidWorkloadPath"
	// ReasonPathOverlaps: the Destination's path overlaps that of another Destination of the
	// same state store, created first; nothing is written for it.
	ReasonPathOverlaps = "PathOverlaps"
	// ReasonInvalidDestinationPath: the Destination's path is not a directory the state store's
	// writer accepts (e.g. it names a .git directory).
	ReasonInvalidDestinationPath = "InvalidDestinationPath"
	ReasonInvalidWorkloadFormat  = "InvalidWorkloadContent"
	// ReasonFileClaimed: in filepath mode none, another WorkPlacement on the Destination is first
	// to a path that this one writes; this one writes nothing until the other goes or stops
	// writing the path.
	ReasonFileClaimed = "FileClaimed"
	// ReasonRestoring: the placement's state store was changed by someone else's hand (files
	// removed, the branch deleted or rewritten); the placement's files are being written again,
	// and its last version may no longer be in the store.
	ReasonRestoring = "Restoring"

	// Destination.
	ReasonTestDocumentsWritten  = "TestDocumentsWritten"
	ReasonStateStoreNotReady    = "StateStoreNotReady"
	ReasonStateStoreWriteFailed = "StateStoreWriteFailed"
	// ReasonRemovingPlacements: a Destination deleted with cleanup all waits for its
	// WorkPlacements to remove their files.
	ReasonRemovingPlacements = "RemovingWorkPlacements"

	// State stores.
	ReasonStateStoreReady = "StateStoreReady"
	ReasonSecretNotFound  = "SecretNotFound"
	// ReasonSecretNamespaceNotAllowed: the store's Secret is in a namespace the manager does not
	// read state-store Secrets from (its --state-store-secret-namespaces).
	ReasonSecretNamespaceNotAllowed  = "SecretNamespaceNotAllowed"
	ReasonErrorValidatingPermissions = "ErrorValidatingPermissions"
	ReasonInvalidSecret              = "InvalidSecret"
	// ReasonCredentialsOverHTTP: a GitStateStore with an http:// URL would send its Secret's
	// username and password in clear text, and does not set insecure to accept that.
	ReasonCredentialsOverHTTP = "CredentialsOverPlainHTTP"
	// ReasonStoreDrifted (an Event of a state store): its writer found it changed by someone
	// else's hand, and the engine writes the files of its placements again.
	ReasonStoreDrifted = "StoreDrifted"
	// ReasonRestored (an Event of a state store): the files of its placements were written
	// again after a drift.
	ReasonRestored = "Restored"
	// ReasonRestoreFailed (an Event of a state store): some placements' files could not be
	// written again after a drift; those placements say why and retry.
	ReasonRestoreFailed = "RestoreFailed"
)

// Status values of a Promise's status.status.
const (
	PromiseStatusAvailable   = "Available"
	PromiseStatusUnavailable = "Unavailable"
)

// Verbs on promises/<name> that admit a ServiceAccount's writes of that Promise's Works, checked
// by the ValidatingAdmissionPolicy kratix-work-ownership (config/policy). The engine grants
// them to each pipeline's ServiceAccount: write-promise-works to a Promise workflow's,
// write-resource-works to a resource workflow's.
const (
	VerbWritePromiseWorks  = "write-promise-works"
	VerbWriteResourceWorks = "write-resource-works"
)

// VerbWriteWorkPlacements on workplacements admits creating a WorkPlacement or changing its spec
// or labels, checked by the ValidatingAdmissionPolicy kratix-workplacement-writers
// (config/policy). The engine's role holds it; tenants' roles should not.
const VerbWriteWorkPlacements = "write-workplacements"

// VerbDeleteLatestRevisions on promiserevisions admits deleting a Promise's latest
// PromiseRevision, checked by the ValidatingAdmissionPolicy kratix-latest-revision-deletion
// (config/policy). The engine's role holds it; tenants' roles should not.
const VerbDeleteLatestRevisions = "delete-latest-revisions"

// AnnotationReconciliationInterval on a Promise overrides spec.workflows.config.reconciliationInterval:
// a Go duration of at least MinReconciliationInterval; another value is ignored.
const AnnotationReconciliationInterval = "kratix.io/reconciliation-interval"

// MinReconciliationInterval is the shortest reconciliation interval a Promise may ask for.
const MinReconciliationInterval = time.Minute
