package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/names"
	"kratix.dev/kratix/pipeline"
	"kratix.dev/kratix/promiseapi"
	"kratix.dev/kratix/scheduling"
	"kratix.dev/kratix/statestore"
)

// +kubebuilder:rbac:groups=platform.kratix.io,resources=dryruns,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=platform.kratix.io,resources=dryruns/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=platform.kratix.io,resources=dryruns/finalizers,verbs=update
// +kubebuilder:rbac:groups=platform.kratix.io,resources=works,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete

// dryRunRecheck is how often a running dry run looks at its Jobs besides the Job watch.
const dryRunRecheck = 30 * time.Second

// dryRunMaxFiles bounds the files listed per Destination in a DryRun's status.
const dryRunMaxFiles = 500

// DryRunReconciler runs DryRuns: a resource Configure workflow of a Promise (its current spec,
// or the new one of spec.promise) for one or more requests, in Jobs of the dry run's own
// (pipeline.BuildDryRunJob) whose Works no request and no scheduler sees; then it plans those
// Works as the Work controller would, builds each placement's change as the WorkPlacement
// controller would, and applies the changes to a dryRunView of each store instead of the store.
// The files that differ are the status: per Destination, and as a unified diff.
type DryRunReconciler struct {
	Client    client.Client
	APIReader client.Reader
	Recorder  events.EventRecorder
	Driver    *workflowDriver
	// Stores gives read access to a state store: the dry run never holds a writer.
	Stores func(kind, name string) (statestore.FileReader, error)
}

// dryRunTarget is one request a dry run runs the workflow for.
type dryRunTarget struct {
	namespace, name string
	// object is what the pipeline reads; nil when the request cannot run (problem says why).
	object  *unstructured.Unstructured
	problem string
}

// Reconcile moves one DryRun forward.
func (r *DryRunReconciler) Reconcile(ctx context.Context, req reconcile.Request) (ctrl.Result, error) {
	dr := &v1alpha1.DryRun{}
	if err := r.Client.Get(ctx, req.NamespacedName, dr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !dr.DeletionTimestamp.IsZero() {
		if err := r.cleanup(ctx, dr); err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, removeFinalizer(ctx, r.Client, dr, v1alpha1.FinalizerDryRunCleanup)
	}
	if err := addFinalizer(ctx, r.Client, dr, v1alpha1.FinalizerDryRunCleanup); err != nil {
		return ctrl.Result{}, err
	}
	if c := meta.FindStatusCondition(dr.Status.Conditions, v1alpha1.ConditionDryRunCompleted); c != nil &&
		c.ObservedGeneration == dr.Generation && c.Reason != v1alpha1.ReasonDryRunRunning {
		return ctrl.Result{}, nil
	}
	base := dr.DeepCopy()
	status, result, err := r.run(ctx, dr)
	if err != nil {
		return ctrl.Result{}, err
	}
	dr.Status = status
	wrote, err := writeStatus(ctx, r.Client, base, dr, base.Status, dr.Status)
	if err != nil {
		return ctrl.Result{}, err
	}
	if wrote {
		// SummaryWritten, PipelineFailed or InvalidDryRun: once each, when the dry run ends.
		recordTransition(r.Recorder, dr, base.Status.Conditions, dr.Status.Conditions, v1alpha1.ConditionDryRunCompleted, "DryRun")
	}
	return result, nil
}

// run computes the DryRun's status: the components' phases and, once all have finished, the
// files they would change.
func (r *DryRunReconciler) run(ctx context.Context, dr *v1alpha1.DryRun) (v1alpha1.DryRunStatus, ctrl.Result, error) {
	status := v1alpha1.DryRunStatus{Conditions: append([]metav1.Condition(nil), dr.Status.Conditions...)}
	invalid := func(msg string) (v1alpha1.DryRunStatus, ctrl.Result, error) {
		setDryRunConditions(&status, dr.Generation, metav1.ConditionFalse, v1alpha1.ReasonDryRunInvalid, msg)
		return status, ctrl.Result{}, nil
	}
	promise := &v1alpha1.Promise{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: dr.Spec.PromiseRef.Name}, promise); err != nil {
		if kerrors.IsNotFound(err) {
			return invalid(fmt.Sprintf("Promise %q does not exist", dr.Spec.PromiseRef.Name))
		}
		return status, ctrl.Result{}, err
	}
	if msg := r.checkScope(dr); msg != "" {
		return invalid(msg)
	}
	workflowPromise := promise.DeepCopy()
	if dr.Spec.Promise != nil {
		workflowPromise.Spec = *dr.Spec.Promise.DeepCopy()
	}
	targets, msg, err := r.targets(ctx, dr, promise)
	if err != nil {
		return status, ctrl.Result{}, err
	}
	if msg != "" {
		return invalid(msg)
	}
	ref := pipeline.DryRunRef{Namespace: dr.Namespace, Name: dr.Name, Generation: dr.Generation}
	running, failed := 0, 0
	var succeeded []dryRunTarget
	for _, t := range targets {
		comp := v1alpha1.DryRunComponentStatus{Promise: promise.Name, Request: t.name, Namespace: t.namespace, DryRun: dr.Name}
		phase, message := v1alpha1.DryRunPhaseFailed, t.problem
		if t.object != nil {
			phase, message, err = r.runPipelines(ctx, dr, ref, workflowPromise, t.object)
			if err != nil {
				return status, ctrl.Result{}, err
			}
		}
		comp.Phase, comp.Message = phase, message
		switch phase {
		case v1alpha1.DryRunPhasePending:
			running++
		case v1alpha1.DryRunPhaseFailed:
			failed++
		default:
			succeeded = append(succeeded, t)
		}
		status.Components = append(status.Components, comp)
	}
	if running > 0 {
		setDryRunConditions(&status, dr.Generation, metav1.ConditionUnknown, v1alpha1.ReasonDryRunRunning,
			fmt.Sprintf("%d of %d requests' workflows are running", running, len(targets)))
		return status, ctrl.Result{RequeueAfter: dryRunRecheck}, nil
	}
	problems, err := r.summarize(ctx, dr, ref, succeeded, &status)
	if err != nil {
		return status, ctrl.Result{}, err
	}
	for i := range status.Components {
		c := &status.Components[i]
		if p := problems[c.Namespace+"/"+c.Request]; p != "" && c.Phase == v1alpha1.DryRunPhaseSucceeded {
			c.Message = p
		}
	}
	added, changed, removed := 0, 0, 0
	for _, d := range status.Destinations {
		added, changed, removed = added+d.Added, changed+d.Changed, removed+d.Removed
	}
	summary := fmt.Sprintf("%d added, %d changed, %d removed on %d Destinations; nothing was written", added, changed, removed, len(status.Destinations))
	if failed > 0 {
		setDryRunConditions(&status, dr.Generation, metav1.ConditionFalse, v1alpha1.ReasonDryRunPipelineFailed,
			fmt.Sprintf("the workflow failed for %d of %d requests; for the others: %s", failed, len(targets), summary))
		return status, ctrl.Result{}, nil
	}
	setDryRunConditions(&status, dr.Generation, metav1.ConditionTrue, v1alpha1.ReasonSummaryWritten, summary)
	return status, ctrl.Result{}, nil
}

// setDryRunConditions sets Completed and ComponentsSucceeded.
func setDryRunConditions(s *v1alpha1.DryRunStatus, generation int64, st metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&s.Conditions, metav1.Condition{Type: v1alpha1.ConditionDryRunCompleted, Status: st, Reason: reason, Message: msg, ObservedGeneration: generation})
	comp := metav1.Condition{Type: v1alpha1.ConditionDryRunComponentsSucceeded, Status: st, Reason: reason, Message: msg, ObservedGeneration: generation}
	if reason == v1alpha1.ReasonSummaryWritten {
		comp.Reason = "AllSucceeded"
	}
	meta.SetStatusCondition(&s.Conditions, comp)
}

// platformNamespace is where DryRuns may reach every namespace and preview a new Promise spec.
func (r *DryRunReconciler) platformNamespace() string { return r.Driver.platformNamespace() }

// checkScope says why the DryRun asks for more than its namespace allows, or "". A DryRun in a
// tenant's namespace runs the Promise's current pipelines for requests of that namespace only,
// as those requests' own identity would: it sees no other tenant's files and runs nothing as
// another's request. Only one in the platform namespace may preview a new Promise spec, whose
// pipelines (images, RBAC) are the platform team's to choose, or reach other namespaces.
func (r *DryRunReconciler) checkScope(dr *v1alpha1.DryRun) string {
	platform := r.platformNamespace()
	if dr.Namespace == platform {
		return ""
	}
	if dr.Spec.Promise != nil {
		return fmt.Sprintf("spec.promise runs a new Promise spec's pipelines: only a DryRun in the platform namespace %q may", platform)
	}
	if dr.Spec.AllRequests {
		return ""
	}
	refs := append([]v1alpha1.DryRunResourceRequestRef{dr.Spec.ResourceRequestRef}, dr.Spec.Requests...)
	for _, ref := range refs {
		if ref.Namespace != "" && ref.Namespace != dr.Namespace {
			return fmt.Sprintf("request %s/%s is in another namespace: a DryRun may name requests of its own namespace %q only (the platform namespace %q: any)",
				ref.Namespace, ref.Name, dr.Namespace, platform)
		}
	}
	return ""
}

// requestGVK is the kind of the Promise's requests.
func requestGVK(promise *v1alpha1.Promise) (schema.GroupVersionKind, bool, error) {
	crd, err := promiseapi.CRD(promise)
	if err != nil {
		return schema.GroupVersionKind{}, false, err
	}
	return schema.GroupVersionKind{Group: crd.Spec.Group, Version: promiseapi.ServedVersion(crd), Kind: crd.Spec.Names.Kind}, promiseapi.Namespaced(crd), nil
}

// targets lists the requests to run and what each one's pipeline reads; msg says why the DryRun
// is invalid.
func (r *DryRunReconciler) targets(ctx context.Context, dr *v1alpha1.DryRun, promise *v1alpha1.Promise) ([]dryRunTarget, string, error) {
	gvk, namespaced, err := requestGVK(promise)
	if err != nil {
		return nil, fmt.Sprintf("Promise %q has no API: %v", promise.Name, err), nil
	}
	namespaceOf := func(ref v1alpha1.DryRunResourceRequestRef) string {
		switch {
		case !namespaced:
			return ""
		case ref.Namespace != "":
			return ref.Namespace
		}
		return dr.Namespace
	}
	if !namespaced && dr.Namespace != r.platformNamespace() {
		return nil, fmt.Sprintf("%s requests are cluster-scoped: only a DryRun in the platform namespace %q may preview them", gvk.Kind, r.platformNamespace()), nil
	}
	if dr.Spec.Promise == nil {
		if len(dr.Spec.Requests) > 0 || dr.Spec.AllRequests {
			return nil, "spec.requests and spec.allRequests go with spec.promise; without it, spec.resource is run for spec.resourceRequestRef", nil
		}
		t, msg, err := r.singleTarget(ctx, dr, gvk, namespaceOf(dr.Spec.ResourceRequestRef))
		if err != nil || msg != "" {
			return nil, msg, err
		}
		return []dryRunTarget{t}, "", nil
	}
	if len(dr.Spec.Resource.Raw) > 0 {
		return nil, "spec.resource goes without spec.promise: an update preview runs the requests as they are", nil
	}
	var keys []types.NamespacedName
	switch {
	case dr.Spec.AllRequests:
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		opts := []client.ListOption{}
		if namespaced && dr.Namespace != r.platformNamespace() {
			opts = append(opts, client.InNamespace(dr.Namespace))
		}
		if err := r.APIReader.List(ctx, list, opts...); err != nil {
			return nil, "", fmt.Errorf("list the requests of Promise %s: %w", promise.Name, err)
		}
		for _, item := range list.Items {
			keys = append(keys, types.NamespacedName{Namespace: item.GetNamespace(), Name: item.GetName()})
		}
	case len(dr.Spec.Requests) > 0:
		for _, ref := range dr.Spec.Requests {
			keys = append(keys, types.NamespacedName{Namespace: namespaceOf(ref), Name: ref.Name})
		}
	case dr.Spec.ResourceRequestRef.Name != "":
		keys = append(keys, types.NamespacedName{Namespace: namespaceOf(dr.Spec.ResourceRequestRef), Name: dr.Spec.ResourceRequestRef.Name})
	default:
		return nil, "spec.promise needs the requests to run it for: spec.requests, spec.allRequests or spec.resourceRequestRef", nil
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	targets := make([]dryRunTarget, 0, len(keys))
	for _, key := range keys {
		t := dryRunTarget{namespace: key.Namespace, name: key.Name}
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(gvk)
		err := r.APIReader.Get(ctx, key, live)
		switch {
		case kerrors.IsNotFound(err):
			t.problem = fmt.Sprintf("%s %s does not exist", gvk.Kind, key)
		case err != nil:
			return nil, "", fmt.Errorf("get %s %s: %w", gvk.Kind, key, err)
		case !live.GetDeletionTimestamp().IsZero():
			t.problem = fmt.Sprintf("%s %s is being deleted", gvk.Kind, key)
		default:
			t.object = live
		}
		targets = append(targets, t)
	}
	return targets, "", nil
}

// singleTarget is upstream's dry run: spec.resource (its spec) as the request named by
// resourceRequestRef, the live one's spec replaced when it exists. The API server checks and
// defaults the object as it would the real write (a server-side dry run, which stores nothing).
func (r *DryRunReconciler) singleTarget(ctx context.Context, dr *v1alpha1.DryRun, gvk schema.GroupVersionKind, namespace string) (dryRunTarget, string, error) {
	resource := map[string]any{}
	if len(dr.Spec.Resource.Raw) > 0 {
		if err := json.Unmarshal(dr.Spec.Resource.Raw, &resource); err != nil {
			return dryRunTarget{}, fmt.Sprintf("spec.resource is not an object: %v", err), nil
		}
	}
	name := dr.Spec.ResourceRequestRef.Name
	if name == "" {
		name, _, _ = unstructured.NestedString(resource, "metadata", "name")
	}
	if name == "" {
		return dryRunTarget{}, "name the request: spec.resourceRequestRef.name or spec.resource.metadata.name", nil
	}
	t := dryRunTarget{namespace: namespace, name: name}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(gvk)
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, live)
	var obj *unstructured.Unstructured
	switch {
	case kerrors.IsNotFound(err):
		obj = &unstructured.Unstructured{Object: map[string]any{}}
		if spec, ok := resource["spec"]; ok {
			obj.Object["spec"] = spec
		}
		obj.SetGroupVersionKind(gvk)
		obj.SetName(name)
		obj.SetNamespace(namespace)
		if labels, ok, _ := unstructured.NestedStringMap(resource, "metadata", "labels"); ok {
			obj.SetLabels(labels)
		}
		err = r.Client.Create(ctx, obj, client.DryRunAll)
	case err != nil:
		return t, "", fmt.Errorf("get %s %s/%s: %w", gvk.Kind, namespace, name, err)
	default:
		obj = live.DeepCopy()
		if spec, ok := resource["spec"]; ok {
			obj.Object["spec"] = spec
		}
		err = r.Client.Update(ctx, obj, client.DryRunAll)
	}
	if err != nil {
		if kerrors.IsInvalid(err) || kerrors.IsBadRequest(err) || kerrors.IsAlreadyExists(err) || kerrors.IsForbidden(err) {
			t.problem = fmt.Sprintf("the API server refuses spec.resource: %v", err)
			return t, "", nil
		}
		return t, "", fmt.Errorf("check spec.resource with the API server: %w", err)
	}
	if live.GetUID() == "" {
		// The server-side dry run made up a UID: the pipeline sees none, as a request it will never be.
		obj.SetUID("")
		obj.SetCreationTimestamp(metav1.Time{})
	}
	t.object = obj
	return t, "", nil
}

// runPipelines takes the dry run's workflow for one request a step: it starts the next
// pipeline's Job when the previous has succeeded, and reports Pending, Failed or Succeeded.
func (r *DryRunReconciler) runPipelines(ctx context.Context, dr *v1alpha1.DryRun, ref pipeline.DryRunRef, promise *v1alpha1.Promise, obj *unstructured.Unstructured) (string, string, error) {
	w := pipeline.Workflow{Type: v1alpha1.WorkflowTypeResource, Action: v1alpha1.WorkflowActionConfigure, Promise: promise, Object: obj}
	pipelines, err := w.Pipelines()
	if err != nil {
		return v1alpha1.DryRunPhaseFailed, err.Error(), nil
	}
	namespace := w.Namespace(r.Driver.options)
	for i := range pipelines {
		job := &batchv1.Job{}
		name := pipeline.DryRunJobName(ref, obj.GetNamespace(), obj.GetName(), i)
		err := r.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, job)
		if kerrors.IsNotFound(err) {
			if msg, err := r.start(ctx, dr, ref, w, i); err != nil || msg != "" {
				if msg != "" {
					return v1alpha1.DryRunPhaseFailed, msg, nil
				}
				return "", "", err
			}
			return v1alpha1.DryRunPhasePending, fmt.Sprintf("pipeline %s is running", pipelines[i].Metadata.Name), nil
		}
		if err != nil {
			return "", "", fmt.Errorf("get Job %s: %w", name, err)
		}
		switch rec := pipeline.ObserveJob(job); rec.Phase {
		case pipeline.JobRunning:
			return v1alpha1.DryRunPhasePending, fmt.Sprintf("pipeline %s is running (Job %s)", pipelines[i].Metadata.Name, name), nil
		case pipeline.JobFailed:
			return v1alpha1.DryRunPhaseFailed, fmt.Sprintf("pipeline %s failed (Job %s): %s", pipelines[i].Metadata.Name, name, rec.Failure), nil
		}
	}
	return v1alpha1.DryRunPhaseSucceeded, "", nil
}

// start creates the access objects and the Job of pipeline index; msg says why it cannot.
func (r *DryRunReconciler) start(ctx context.Context, dr *v1alpha1.DryRun, ref pipeline.DryRunRef, w pipeline.Workflow, index int) (string, error) {
	access, err := pipeline.BuildAccess(w, index, r.Driver.options)
	if err != nil {
		return err.Error(), nil
	}
	if msg, err := r.applyAccess(ctx, access); err != nil || msg != "" {
		return msg, err
	}
	if w.Namespace(r.Driver.options) == dr.Namespace {
		ref.Owner = &metav1.OwnerReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "DryRun", Name: dr.Name, UID: dr.UID}
	}
	job, err := pipeline.BuildDryRunJob(w, index, ref, r.Driver.options)
	if err != nil {
		return err.Error(), nil
	}
	if err := r.Client.Create(ctx, job); err != nil && !kerrors.IsAlreadyExists(err) {
		if kerrors.IsInvalid(err) {
			return fmt.Sprintf("the API server refused Job %s: %v", job.Name, err), nil
		}
		return "", fmt.Errorf("create Job %s: %w", job.Name, err)
	}
	return "", nil
}

// applyAccess creates the access objects of a dry run's pipeline that do not exist yet, as the
// real run would, but never changes one that exists: those are shared with the requests' real
// runs, and a new Promise spec's different RBAC must not reach them before the update does.
func (r *DryRunReconciler) applyAccess(ctx context.Context, access *pipeline.Access) (string, error) {
	var missing []client.Object
	for _, obj := range access.Objects() {
		existing, ok := obj.DeepCopyObject().(client.Object)
		if !ok {
			return "", fmt.Errorf("copy %T", obj)
		}
		err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(obj), existing)
		if kerrors.IsNotFound(err) {
			missing = append(missing, obj)
			continue
		}
		if err != nil {
			return "", fmt.Errorf("get %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
		}
		if !sameAccess(obj, existing) {
			return fmt.Sprintf("the new spec would change %s %s, which the Promise's real runs use: a dry run does not change it before the update",
				obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName()), nil
		}
	}
	if len(missing) == 0 {
		return "", nil
	}
	for _, obj := range missing {
		if err := r.Driver.checkNotAnothers(ctx, obj, obj.GetLabels()); err != nil {
			return err.Error(), nil
		}
		if err := r.Client.Patch(ctx, obj, client.Apply, fieldOwner, client.ForceOwnership); err != nil {
			return "", fmt.Errorf("apply %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
		}
	}
	return "", nil
}

// sameAccess reports whether an existing access object grants what want grants.
func sameAccess(want, existing client.Object) bool {
	switch w := want.(type) {
	case *rbacv1.Role:
		return equality.Semantic.DeepEqual(w.Rules, existing.(*rbacv1.Role).Rules)
	case *rbacv1.ClusterRole:
		return equality.Semantic.DeepEqual(w.Rules, existing.(*rbacv1.ClusterRole).Rules)
	case *rbacv1.RoleBinding:
		e := existing.(*rbacv1.RoleBinding)
		return equality.Semantic.DeepEqual(w.RoleRef, e.RoleRef) && equality.Semantic.DeepEqual(w.Subjects, e.Subjects)
	case *rbacv1.ClusterRoleBinding:
		e := existing.(*rbacv1.ClusterRoleBinding)
		return equality.Semantic.DeepEqual(w.RoleRef, e.RoleRef) && equality.Semantic.DeepEqual(w.Subjects, e.Subjects)
	case *corev1.ServiceAccount:
		return true
	}
	return false
}

// dryRunWorks lists the Works the dry run's pipelines wrote, by namespace and name.
func (r *DryRunReconciler) dryRunWorks(ctx context.Context, ref pipeline.DryRunRef) ([]v1alpha1.Work, error) {
	var works v1alpha1.WorkList
	if err := r.APIReader.List(ctx, &works, client.MatchingLabels(ref.Labels())); err != nil {
		return nil, fmt.Errorf("list the dry run's Works: %w", err)
	}
	sort.Slice(works.Items, func(i, j int) bool {
		return works.Items[i].Namespace+"/"+works.Items[i].Name < works.Items[j].Namespace+"/"+works.Items[j].Name
	})
	return works.Items, nil
}

// summarize plans the Works of the succeeded requests and applies their placements' changes to
// views of the stores, and writes the files that differ into the status. It returns, by
// "namespace/name" of request, what the real path would refuse or leave unscheduled.
func (r *DryRunReconciler) summarize(ctx context.Context, dr *v1alpha1.DryRun, ref pipeline.DryRunRef, succeeded []dryRunTarget, status *v1alpha1.DryRunStatus) (map[string]string, error) {
	problems := map[string]string{}
	works, err := r.dryRunWorks(ctx, ref)
	if err != nil {
		return nil, err
	}
	var dests v1alpha1.DestinationList
	if err := r.Client.List(ctx, &dests); err != nil {
		return nil, fmt.Errorf("list Destinations: %w", err)
	}
	set := scheduling.NewDestinationSet(dests.Items)
	views := map[string]*destinationView{}
	view := func(name string) (*destinationView, error) {
		if v, ok := views[name]; ok {
			return v, nil
		}
		var dest *v1alpha1.Destination
		for i := range dests.Items {
			if dests.Items[i].Name == name {
				dest = &dests.Items[i]
			}
		}
		if dest == nil {
			return nil, fmt.Errorf("Destination %s is gone", name)
		}
		store, err := r.Stores(dest.Spec.StateStoreRef.Kind, dest.Spec.StateStoreRef.Name)
		if err != nil {
			return nil, err
		}
		var wps v1alpha1.WorkPlacementList
		if err := r.Client.List(ctx, &wps, client.MatchingFields{indexTargetDestination: name}); err != nil {
			return nil, fmt.Errorf("list the WorkPlacements of Destination %s: %w", name, err)
		}
		v := &destinationView{dest: dest, view: newDryRunView(store), placements: map[types.NamespacedName]*v1alpha1.WorkPlacement{}, own: map[string]bool{}}
		for i := range wps.Items {
			wp := &wps.Items[i]
			v.placements[types.NamespacedName{Namespace: wp.Namespace, Name: wp.Name}] = wp
		}
		views[name] = v
		return v, nil
	}
	ok := map[string]bool{}
	for _, t := range succeeded {
		ok[t.namespace+"/"+t.name] = true
	}
	now := metav1.Now()
	for i := range works {
		dw := &works[i]
		key := dw.Spec.ResourceNamespace + "/" + dw.Spec.ResourceName
		if !ok[key] || dw.Spec.PromiseName != dr.Spec.PromiseRef.Name {
			continue
		}
		virtual := &v1alpha1.Work{}
		realName := dw.Annotations[v1alpha1.AnnotationDryRunOf]
		if realName == "" {
			return nil, fmt.Errorf("the dry run's Work %s names no Work it stands for", dw.Name)
		}
		err := r.Client.Get(ctx, client.ObjectKey{Namespace: dw.Namespace, Name: realName}, virtual)
		switch {
		case kerrors.IsNotFound(err):
			virtual = &v1alpha1.Work{ObjectMeta: metav1.ObjectMeta{Namespace: dw.Namespace, Name: realName}}
		case err != nil:
			return nil, fmt.Errorf("get Work %s: %w", realName, err)
		}
		virtual.Spec = *dw.Spec.DeepCopy()
		existing, err := cachedPlacementsOf(ctx, r.Client, virtual)
		if err != nil {
			return nil, err
		}
		plan := set.Place(virtual, existing)
		for _, id := range plan.Unscheduled {
			problems[key] = strings.TrimSpace(problems[key] + fmt.Sprintf(" workload group %s of pipeline %s matches no Destination;", id, dw.Spec.PipelineName))
		}
		writes := append(append(append([]v1alpha1.WorkPlacement(nil), plan.Create...), plan.Update...), plan.Unmisschedule...)
		for j := range writes {
			wp := &writes[j]
			if wp.CreationTimestamp.IsZero() {
				wp.CreationTimestamp = now
			}
			v, err := view(wp.Spec.TargetDestinationName)
			if err != nil {
				return nil, err
			}
			if err := v.apply(ctx, wp, statestore.ActionUpdate); err != nil {
				return nil, err
			}
		}
		for j := range plan.Delete {
			v, err := view(plan.Delete[j].Spec.TargetDestinationName)
			if err != nil {
				return nil, err
			}
			if err := v.apply(ctx, &plan.Delete[j], statestore.ActionDelete); err != nil {
				return nil, err
			}
		}
	}
	destNames := make([]string, 0, len(views))
	for name := range views {
		destNames = append(destNames, name)
	}
	sort.Strings(destNames)
	var all []fileChange
	for _, name := range destNames {
		d, changes, ok := views[name].summary(dr.Namespace != r.platformNamespace())
		if !ok {
			continue
		}
		status.Destinations = append(status.Destinations, d)
		all = append(all, changes...)
	}
	diff, err := unifiedDiff(all)
	if err != nil {
		return nil, fmt.Errorf("render the diff: %w", err)
	}
	status.Diff, status.DiffTruncated = boundDiff(diff, v1alpha1.DryRunMaxDiff)
	return problems, nil
}

// cleanup deletes the dry run's Jobs and Works, wherever they are: envtest, and a cluster whose
// Jobs run in another namespace than the DryRun's, has no owner to take them away.
func (r *DryRunReconciler) cleanup(ctx context.Context, dr *v1alpha1.DryRun) error {
	if !controllerutil.ContainsFinalizer(dr, v1alpha1.FinalizerDryRunCleanup) {
		return nil
	}
	ref := pipeline.DryRunRef{Namespace: dr.Namespace, Name: dr.Name}
	var jobs batchv1.JobList
	if err := r.APIReader.List(ctx, &jobs, client.MatchingLabels(ref.Labels())); err != nil {
		return fmt.Errorf("list the dry run's Jobs: %w", err)
	}
	for i := range jobs.Items {
		if err := r.Client.Delete(ctx, &jobs.Items[i], client.PropagationPolicy("Background")); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete Job %s: %w", jobs.Items[i].Name, err)
		}
	}
	works, err := r.dryRunWorks(ctx, ref)
	if err != nil {
		return err
	}
	for i := range works {
		if err := r.Client.Delete(ctx, &works[i]); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete Work %s: %w", works[i].Name, err)
		}
	}
	return nil
}

// isDryRunWork reports whether a Work is a dry run's: never scheduled.
func isDryRunWork(w *v1alpha1.Work) bool {
	return w.Labels[v1alpha1.LabelDryRun] != ""
}

// setupWithManager registers the controller "dryrun": DryRuns, and the dry runs' Jobs.
func (r *DryRunReconciler) setupWithManager(mgr ctrl.Manager, concurrency int) error {
	c := mgr.GetClient()
	jobToDryRun := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		labels := o.GetLabels()
		value, namespace := labels[v1alpha1.LabelDryRun], labels[v1alpha1.LabelDryRunNamespace]
		if value == "" || namespace == "" {
			return nil
		}
		var list v1alpha1.DryRunList
		if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
			return nil
		}
		var reqs []reconcile.Request
		for _, dr := range list.Items {
			if names.LabelValue(dr.Name) == value {
				reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: namespace, Name: dr.Name}})
			}
		}
		return reqs
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("dryrun").
		For(&v1alpha1.DryRun{}).
		Watches(&batchv1.Job{}, jobToDryRun).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		Complete(r)
}

// readOnlyStore hands out a store's Read alone: the DryRun controller holds no writer.
type readOnlyStore struct{ reader statestore.FileReader }

func (s readOnlyStore) Read(ctx context.Context, path string) ([]byte, error) {
	return s.reader.Read(ctx, path)
}
