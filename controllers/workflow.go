package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
)

// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings;clusterroles;clusterrolebindings,verbs=get;list;watch;create;update;patch;delete;bind;escalate

// fieldOwner is the engine's field manager for server-side apply.
const fieldOwner = client.FieldOwner("kratix")

// errInvalidWorkflow marks a workflow that cannot be built from the Promise: the platform team
// has to change the Promise.
var errInvalidWorkflow = errors.New("invalid workflow")

// workflowDriver moves the workflows of Promises and resource requests forward: it reads an
// object's Jobs, asks pipeline.Decide what to do, and does it.
type workflowDriver struct {
	client client.Client
	// reader reads from the API server what the cache does not hold: the ServiceAccounts and
	// RBAC that a request leaves behind.
	reader  client.Reader
	options pipeline.Options
	// applied remembers the access objects applied since the engine started.
	applied accessMemo
}

// advance takes one step of the workflow of obj: it starts the next pipeline's Job (with its
// ServiceAccount and RBAC) when the decision is Start, and deletes the Jobs the decision prunes.
// It reads and updates the workflow's progress in obj's status.kratix.workflows (written by the
// reconcile's status patch), and labels obj kratix.io/workflow-suspended=true when a pipeline has
// just suspended the workflow. manual says the object asks for a new run; so does a finished run
// older than p.resync, when positive. An error that wraps errInvalidWorkflow means the Promise's
// pipelines cannot be built.
func (d *workflowDriver) advance(ctx context.Context, rec events.EventRecorder, obj client.Object, w pipeline.Workflow, manual bool, p workflowPolicy) (pipeline.Decision, error) {
	pipelines, err := w.Pipelines()
	if err != nil {
		return pipeline.Decision{}, fmt.Errorf("%w: %w", errInvalidWorkflow, err)
	}
	if len(pipelines) == 0 {
		return pipeline.Decision{Verdict: pipeline.Finish}, nil
	}
	hash, err := pipeline.SpecHash(w.Promise, w.Object)
	if err != nil {
		return pipeline.Decision{}, fmt.Errorf("%w: %w", errInvalidWorkflow, err)
	}
	namespace := w.Namespace(d.options)
	var jobs batchv1.JobList
	if err := d.client.List(ctx, &jobs, client.InNamespace(namespace), client.MatchingLabels(w.Selector())); err != nil {
		return pipeline.Decision{}, fmt.Errorf("list the workflow's Jobs: %w", err)
	}
	observed := make([]pipeline.JobRecord, 0, len(jobs.Items))
	for i := range jobs.Items {
		if jobs.Items[i].DeletionTimestamp.IsZero() {
			observed = append(observed, pipeline.ObserveJob(&jobs.Items[i]))
		}
	}
	progress, records, newly, err := d.observeProgress(ctx, obj, w, observed)
	if err != nil {
		return pipeline.Decision{}, err
	}
	for _, j := range newly {
		if err := announceSuspension(ctx, d.client, rec, obj, w, j); err != nil {
			return pipeline.Decision{}, err
		}
	}
	now := time.Now()
	state := pipeline.State{Pipelines: pipelines, Hash: hash, ManualReconciliation: manual, Jobs: records, Now: now,
		SuspendLabel: obj.GetLabels()[v1alpha1.LabelWorkflowSuspended] == v1alpha1.LabelTriggerValue}
	if w.Action == v1alpha1.WorkflowActionConfigure && p.reconcileAfterFailure {
		state.RetryFailedAfter = p.resync
	}
	decision := pipeline.Decide(state)
	if decision.Verdict == pipeline.Finish && p.resync > 0 && newestJob(records).Before(now.Add(-p.resync)) {
		state.ManualReconciliation = true
		decision = pipeline.Decide(state)
	}
	if decision.Verdict == pipeline.Start {
		if state.SuspendLabel {
			if err := removeLabel(ctx, d.client, obj, v1alpha1.LabelWorkflowSuspended); err != nil {
				return decision, err
			}
		}
		job, err := d.start(ctx, w, decision)
		if err != nil {
			return decision, err
		}
		decision.Job = job
	}
	if err := setWorkflowStatus(obj, nextProgress(progress, pipelines, records, decision, now)); err != nil {
		return decision, err
	}
	for _, name := range decision.Prune {
		job := &batchv1.Job{}
		job.Name, job.Namespace = name, namespace
		if err := d.client.Delete(ctx, job, client.PropagationPolicy("Background")); client.IgnoreNotFound(err) != nil {
			return decision, fmt.Errorf("delete the old Job %s: %w", name, err)
		}
	}
	return decision, nil
}

// announceStart records the Event of a pipeline's start.
func announceStart(rec events.EventRecorder, obj client.Object, w pipeline.Workflow, d pipeline.Decision) {
	if d.Cause == pipeline.CauseResume || d.Cause == pipeline.CauseRetry {
		rec.Eventf(obj, nil, corev1.EventTypeNormal, v1alpha1.ReasonWorkflowResumed, workflowAction(w),
			"run %d: pipeline %d of the %s workflow runs again (%s)", d.Run, d.Pipeline+1, workflowName(w), d.Cause)
		return
	}
	rec.Eventf(obj, nil, corev1.EventTypeNormal, v1alpha1.ReasonPipelinesInProgress, workflowAction(w),
		"run %d: started pipeline %d of the %s workflow (%s)", d.Run, d.Pipeline+1, workflowName(w), d.Cause)
}

// workflowPolicy is when a workflow runs again on its own, and how its runs are announced.
type workflowPolicy struct {
	// resync: a finished configure workflow runs again once its newest run is that old.
	resync time.Duration
	// reconcileAfterFailure: a failed configure workflow runs again from its start once its
	// failure is resync old.
	reconcileAfterFailure bool
	// quietStart: a start records no Event; the caller announces the run if it lasts (a
	// re-run of a Ready request, see RerunStatusDelay).
	quietStart bool
}

// newestJob is the creation time of the newest Job.
func newestJob(jobs []pipeline.JobRecord) time.Time {
	var newest time.Time
	for _, j := range jobs {
		if j.Created.After(newest) {
			newest = j.Created
		}
	}
	return newest
}

// step advances the workflow of obj (its Promise or resource request) one step as advance does.
// obj's kratix.io/manual-reconciliation label asks for a new run and is removed once a run
// starts for it; starting a pipeline records an Event on obj. invalid says why the Promise's
// pipelines cannot be built; err is any other failure.
func (d *workflowDriver) step(ctx context.Context, rec events.EventRecorder, obj client.Object, w pipeline.Workflow, p workflowPolicy) (decision pipeline.Decision, invalid, err error) {
	manual := obj.GetLabels()[v1alpha1.LabelManualReconciliation] == v1alpha1.LabelTriggerValue
	decision, err = d.advance(ctx, rec, obj, w, manual, p)
	if errors.Is(err, errInvalidWorkflow) {
		return decision, err, nil
	}
	if err != nil {
		return decision, nil, err
	}
	if decision.Verdict == pipeline.Start {
		logr.FromContextOrDiscard(ctx).Info("started a pipeline", "workflow", workflowName(w), "pipeline", decision.Pipeline, "run", decision.Run, "cause", decision.Cause)
		if !p.quietStart {
			announceStart(rec, obj, w, decision)
		}
	}
	if manual && decision.Cause == pipeline.CauseManualReconciliation {
		// The patch reads the object back; the progress advance set must stay.
		progress, err := workflowStatusOf(obj)
		if err != nil {
			return decision, nil, err
		}
		if err := removeLabel(ctx, d.client, obj, v1alpha1.LabelManualReconciliation); err != nil {
			return decision, nil, err
		}
		return decision, nil, setWorkflowStatus(obj, progress)
	}
	return decision, nil, nil
}

// runDelete advances a delete workflow of obj one step, as step does, and reports whether it
// finished; its Jobs are then removed, having no owner to take them away with the object. A
// failed run keeps obj, with a Warning Event, until a manual reconciliation runs the workflow
// again and it succeeds.
func (d *workflowDriver) runDelete(ctx context.Context, rec events.EventRecorder, obj client.Object, w pipeline.Workflow) (done bool, decision pipeline.Decision, invalid, err error) {
	decision, invalid, err = d.step(ctx, rec, obj, w, workflowPolicy{})
	if err != nil || invalid != nil {
		return false, decision, invalid, err
	}
	switch decision.Verdict {
	case pipeline.Finish:
		return true, decision, nil, d.removeJobs(ctx, w)
	case pipeline.Fail:
		what := "the Promise"
		if w.Type == v1alpha1.WorkflowTypeResource {
			what = "the request"
		}
		rec.Eventf(obj, nil, corev1.EventTypeWarning, v1alpha1.ReasonDeleteWorkflowFailed, workflowAction(w),
			"the %s workflow failed: %s; %s stays until it succeeds (label it %s=true to run it again)", workflowName(w), decision.Failure, what, v1alpha1.LabelManualReconciliation)
	}
	return false, decision, nil, nil
}

// workflowName names a workflow for messages: "Resource Configure", "Promise Delete".
func workflowName(w pipeline.Workflow) string {
	name := "Promise"
	if w.Type == v1alpha1.WorkflowTypeResource {
		name = "Resource"
	}
	return name + " " + workflowAction(w)
}

// workflowAction is "Configure" or "Delete", the action of the workflow's Events.
func workflowAction(w pipeline.Workflow) string {
	if w.Action == v1alpha1.WorkflowActionDelete {
		return "Delete"
	}
	return "Configure"
}

// start creates the access objects and the Job of the decision's pipeline, and returns the Job's
// name. A Job that already exists was created by an earlier reconcile that the cache had not
// shown yet: the same run.
func (d *workflowDriver) start(ctx context.Context, w pipeline.Workflow, decision pipeline.Decision) (string, error) {
	access, err := pipeline.BuildAccess(w, decision.Pipeline, d.options)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errInvalidWorkflow, err)
	}
	if err := d.applyAccess(ctx, w, access); err != nil {
		return "", err
	}
	job, err := pipeline.BuildJob(w, decision.Pipeline, decision.Run, d.options)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errInvalidWorkflow, err)
	}
	if access.ServiceAccount == nil {
		// The pipeline names its own: it must not be one the engine made for another's.
		sa := &corev1.ServiceAccount{}
		sa.SetNamespace(job.Namespace)
		sa.SetName(job.Spec.Template.Spec.ServiceAccountName)
		sa.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ServiceAccount"))
		if err := d.checkNotAnothers(ctx, sa, nil); err != nil {
			return "", err
		}
	}
	if err := d.client.Create(ctx, job); err != nil && !apierrors.IsAlreadyExists(err) {
		if apierrors.IsInvalid(err) {
			return "", fmt.Errorf("%w: the API server refused Job %s: %w", errInvalidWorkflow, job.Name, err)
		}
		return "", fmt.Errorf("create Job %s: %w", job.Name, err)
	}
	return job.Name, nil
}

// applyAccess applies the ServiceAccount and RBAC of a pipeline of w with server-side apply,
// each object once per content since the engine started.
func (d *workflowDriver) applyAccess(ctx context.Context, w pipeline.Workflow, a *pipeline.Access) error {
	for _, obj := range a.Objects() {
		group := accessGroup{promise: w.Promise.Name}
		if requestsOwn(obj) {
			group.namespace, group.name = w.Object.GetNamespace(), w.Object.GetName()
		}
		id, digest, err := accessKey(obj)
		if err != nil {
			return err
		}
		if d.applied.has(group, id, digest) {
			continue
		}
		if err := d.checkNotAnothers(ctx, obj, obj.GetLabels()); err != nil {
			return err
		}
		if err := d.client.Patch(ctx, obj, client.Apply, fieldOwner, client.ForceOwnership); err != nil {
			return fmt.Errorf("apply %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
		}
		d.applied.remember(group, id, digest)
	}
	return nil
}

// identityLabels say whose pipeline an access object is for.
var identityLabels = []string{v1alpha1.LabelPromiseName, v1alpha1.LabelWorkflowType, v1alpha1.LabelWorkflowAction, v1alpha1.LabelPipelineName}

// checkNotAnothers refuses, as an invalid workflow, an access object (obj names it) that the
// engine made for another pipeline: mine are the labels of the pipeline that would apply or use
// it, nil for a ServiceAccount that the pipeline names itself, which must not be any of the
// engine's. Two Promises' pipelines may otherwise meet on one name
// ("<promise>-<type>-<action>-<pipeline>" with dashes in every part), and a Promise could run as
// another's pipeline ServiceAccount and write that Promise's Works. It reads the API server.
func (d *workflowDriver) checkNotAnothers(ctx context.Context, obj client.Object, mine map[string]string) error {
	existing := &metav1.PartialObjectMetadata{}
	existing.SetGroupVersionKind(obj.GetObjectKind().GroupVersionKind())
	if err := d.reader.Get(ctx, client.ObjectKeyFromObject(obj), existing); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("get %s %s: %w", existing.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
	}
	theirs := existing.GetLabels()
	if theirs[v1alpha1.LabelManagedBy] != v1alpha1.LabelManagedByValue || theirs[v1alpha1.LabelPromiseName] == "" {
		return nil
	}
	for _, key := range identityLabels {
		if mine == nil || theirs[key] != mine[key] {
			return fmt.Errorf("%w: %s is the engine's for the %s %s pipeline %q of Promise %q; rename the pipeline or name a ServiceAccount of its own",
				errInvalidWorkflow, describeObject(existing),
				theirs[v1alpha1.LabelWorkflowType], theirs[v1alpha1.LabelWorkflowAction], theirs[v1alpha1.LabelPipelineName], theirs[v1alpha1.LabelPromiseName])
		}
	}
	return nil
}

// requestsOwn reports whether an access object is a resource request's own: it carries the
// request's labels (pipeline.RequestSelector).
func requestsOwn(obj client.Object) bool {
	_, ok := obj.GetLabels()[v1alpha1.LabelResourceName]
	return ok
}

// accessKinds are the kinds of the ServiceAccounts and RBAC objects that BuildAccess builds.
var accessKinds = []schema.GroupVersionKind{
	corev1.SchemeGroupVersion.WithKind("ServiceAccount"),
	rbacv1.SchemeGroupVersion.WithKind("RoleBinding"),
	rbacv1.SchemeGroupVersion.WithKind("Role"),
	rbacv1.SchemeGroupVersion.WithKind("ClusterRoleBinding"),
	rbacv1.SchemeGroupVersion.WithKind("ClusterRole"),
}

// removeRequestAccess deletes the ServiceAccounts and RBAC that are the request's own
// (pipeline.RequestSelector), of both its workflows and of every pipeline the Promise has had,
// wherever they are, and forgets them, so that a new request of the same name gets its own
// again. Those in the request's namespace would go with it, but not those in a
// pipelineNamespace or cluster-wide, nor any of its delete workflow, which has no owner: call it
// when the request's deletion has finished, its delete workflow included. It reads the API
// server, which serves the label selection; the cache holds no RBAC.
func (d *workflowDriver) removeRequestAccess(ctx context.Context, promise string, request client.Object) error {
	selector := client.MatchingLabels(pipeline.RequestSelector(promise, request.GetNamespace(), request.GetName()))
	for _, gvk := range accessKinds {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := d.reader.List(ctx, list, selector); err != nil {
			return fmt.Errorf("list the request's %ss: %w", gvk.Kind, err)
		}
		for i := range list.Items {
			obj := &list.Items[i]
			obj.SetGroupVersionKind(gvk)
			if err := d.client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("delete %s %s: %w", gvk.Kind, obj.GetName(), err)
			}
		}
	}
	d.applied.forgetRequest(promise, request.GetNamespace(), request.GetName())
	return nil
}

// platformNamespace is where Promise workflows run and the Promise's Works live.
func (d *workflowDriver) platformNamespace() string {
	return pipeline.Workflow{}.Namespace(d.options)
}

// accessKey identifies an access object (kind, namespace and name) and digests its content.
func accessKey(obj client.Object) (id, digest string, err error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return "", "", err
	}
	sum := sha256.Sum256(data)
	id = obj.GetObjectKind().GroupVersionKind().Kind + "/" + obj.GetNamespace() + "/" + obj.GetName()
	return id, fmt.Sprintf("%x", sum), nil
}

// accessMemo remembers the access objects that the engine applied since it started and with
// which content, so that the runs of a Promise's thousand requests apply each shared object once
// and each request's own once, and a changed object again. It holds the objects of live
// requests and Promises only: a request's are forgotten when its deletion has finished
// (removeRequestAccess), a Promise's when it is gone.
type accessMemo struct {
	mu sync.Mutex
	// groups maps the owner of each group to its objects' digests by kind/namespace/name.
	groups map[accessGroup]map[string]string
}

// accessGroup is whose access objects a memo group holds: a resource request's own (promise,
// namespace and name of the request), or those that a Promise's workflows share (promise
// alone).
type accessGroup struct {
	promise, namespace, name string
}

// has reports whether the object id was applied with the content digest.
func (m *accessMemo) has(g accessGroup, id, digest string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.groups[g][id] == digest
}

// remember records that the object id was applied with the content digest.
func (m *accessMemo) remember(g accessGroup, id, digest string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.groups == nil {
		m.groups = map[accessGroup]map[string]string{}
	}
	if m.groups[g] == nil {
		m.groups[g] = map[string]string{}
	}
	m.groups[g][id] = digest
}

// forgetRequest forgets the objects of a request's own.
func (m *accessMemo) forgetRequest(promise, namespace, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.groups, accessGroup{promise: promise, namespace: namespace, name: name})
}

// forgetPromise forgets every object of the Promise's workflows: shared ones and its requests'.
func (m *accessMemo) forgetPromise(promise string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for g := range m.groups {
		if g.promise == promise {
			delete(m.groups, g)
		}
	}
}

// removeJobs deletes every Job of a finished workflow: a delete workflow's Jobs have no owner to
// take them away with the object.
func (d *workflowDriver) removeJobs(ctx context.Context, w pipeline.Workflow) error {
	job := &batchv1.Job{}
	err := d.client.DeleteAllOf(ctx, job, client.InNamespace(w.Namespace(d.options)), client.MatchingLabels(w.Selector()),
		client.PropagationPolicy("Background"))
	if err != nil {
		return fmt.Errorf("delete the finished workflow's Jobs: %w", err)
	}
	return nil
}
