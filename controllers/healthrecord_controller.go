package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/promiseapi"
)

// DefaultHealthRecordRetryInterval is how soon HealthRecords whose Promise or request is missing
// are looked at again: the request may be created after its records.
const DefaultHealthRecordRetryInterval = time.Minute

// indexHealthRecordTarget indexes HealthRecords by the request they are about (healthTargetKey).
const indexHealthRecordTarget = "data.target"

// healthStatePriority orders the states from worst to best: a request's health is its worst
// record's.
var healthStatePriority = map[string]int{
	v1alpha1.HealthStateUnhealthy: 0,
	v1alpha1.HealthStateDegraded:  1,
	v1alpha1.HealthStateUnknown:   2,
	v1alpha1.HealthStateHealthy:   3,
	v1alpha1.HealthStateReady:     4,
}

// HealthRecordReconciler writes the HealthRecords of each resource request into the request's
// status.healthStatus: state, the worst of its records' states, and healthRecords, one entry per
// record (state, lastRun, details and source, the record's name and namespace), as upstream
// Kratix does. It reconciles a request at a time, keyed by healthTargetKey, so that the records of
// one request are never written by two reconciles at once; it writes status.healthStatus alone,
// with a merge patch on the status subresource, and keeps everything else there (the workflows'
// conditions, what pipelines wrote). A record whose Promise or request does not exist is reported
// in a Warning Event on the record.
type HealthRecordReconciler struct {
	client.Client
	// RequestReader reads resource requests, uncached: the manager's cache holds them only as
	// the resource controllers watch them.
	RequestReader client.Reader
	Recorder      events.EventRecorder
	// RetryInterval: DefaultHealthRecordRetryInterval when zero.
	RetryInterval time.Duration
	// PlatformNamespace is where the engine's pipelines (health checks among them) run: records
	// there may be about requests of any namespace; records elsewhere only about requests of
	// their own namespace.
	PlatformNamespace string
}

// +kubebuilder:rbac:groups=platform.kratix.io,resources=healthrecords,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=platform.kratix.io,resources=healthrecords/finalizers,verbs=update
// +kubebuilder:rbac:groups=platform.kratix.io,resources=promises,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// healthTargetKey is the reconcile key of the request a record is about: the namespace is the
// request's, the name "<promise>/<request>" (a slash is in no object's name).
func healthTargetKey(r *v1alpha1.HealthRecord) types.NamespacedName {
	return types.NamespacedName{Namespace: r.Data.ResourceRef.Namespace, Name: r.Data.PromiseRef.Name + "/" + r.Data.ResourceRef.Name}
}

func (r *HealthRecordReconciler) setupWithManager(mgr ctrl.Manager, concurrency int) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.HealthRecord{}, indexHealthRecordTarget, func(o client.Object) []string {
		return []string{healthTargetKey(o.(*v1alpha1.HealthRecord)).String()}
	}); err != nil {
		return fmt.Errorf("index HealthRecords by request: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("healthrecord").
		Watches(&v1alpha1.HealthRecord{}, healthTargets{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		Complete(r)
}

// healthTargets enqueues the request a HealthRecord is about; on an update that changes its
// references, the request it was about too, whose status still shows it.
type healthTargets struct{}

func (healthTargets) Create(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	q.Add(reconcile.Request{NamespacedName: healthTargetKey(e.Object.(*v1alpha1.HealthRecord))})
}

func (healthTargets) Update(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	q.Add(reconcile.Request{NamespacedName: healthTargetKey(e.ObjectNew.(*v1alpha1.HealthRecord))})
	if old := healthTargetKey(e.ObjectOld.(*v1alpha1.HealthRecord)); old != healthTargetKey(e.ObjectNew.(*v1alpha1.HealthRecord)) {
		q.Add(reconcile.Request{NamespacedName: old})
	}
}

func (healthTargets) Delete(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	q.Add(reconcile.Request{NamespacedName: healthTargetKey(e.Object.(*v1alpha1.HealthRecord))})
}

func (healthTargets) Generic(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	q.Add(reconcile.Request{NamespacedName: healthTargetKey(e.Object.(*v1alpha1.HealthRecord))})
}

func (r *HealthRecordReconciler) retry() ctrl.Result {
	if r.RetryInterval > 0 {
		return ctrl.Result{RequeueAfter: r.RetryInterval}
	}
	return ctrl.Result{RequeueAfter: DefaultHealthRecordRetryInterval}
}

func (r *HealthRecordReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	promiseName, requestName, ok := strings.Cut(req.Name, "/")
	if !ok {
		return ctrl.Result{}, nil
	}
	var list v1alpha1.HealthRecordList
	if err := r.List(ctx, &list, client.MatchingFields{indexHealthRecordTarget: req.String()}); err != nil {
		return ctrl.Result{}, fmt.Errorf("list the HealthRecords of %s: %w", req, err)
	}
	var live, deleting []*v1alpha1.HealthRecord
	for i := range list.Items {
		if list.Items[i].DeletionTimestamp.IsZero() {
			live = append(live, &list.Items[i])
		} else {
			deleting = append(deleting, &list.Items[i])
		}
	}
	slices.SortFunc(live, func(a, b *v1alpha1.HealthRecord) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	live = r.permitted(live, req.Namespace)
	for _, rec := range live {
		if err := r.addFinalizer(ctx, rec); err != nil {
			return ctrl.Result{}, err
		}
	}

	request, missing, err := r.request(ctx, promiseName, requestName, req.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	if missing != "" {
		// Nothing to clean up on a request that is not there.
		for _, rec := range live {
			r.Recorder.Eventf(rec, nil, corev1.EventTypeWarning, missing, "Reconcile", "%s", eventNote(r.missingMessage(rec, missing, request)))
		}
		if err := r.removeFinalizers(ctx, deleting); err != nil {
			return ctrl.Result{}, err
		}
		if len(live) == 0 {
			return ctrl.Result{}, nil
		}
		return r.retry(), nil
	}

	if err := r.writeHealth(ctx, request, live); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.removeFinalizers(ctx, deleting)
}

// permitted keeps the records that may speak of a request in namespace: those in that namespace
// and those in the platform namespace. The others get a Warning Event and are not shown.
func (r *HealthRecordReconciler) permitted(live []*v1alpha1.HealthRecord, namespace string) []*v1alpha1.HealthRecord {
	return slices.DeleteFunc(live, func(rec *v1alpha1.HealthRecord) bool {
		if rec.Namespace == namespace || rec.Namespace == r.PlatformNamespace {
			return false
		}
		r.Recorder.Eventf(rec, nil, corev1.EventTypeWarning, v1alpha1.ReasonOutsideItsNamespace, "Reconcile",
			"data.resourceRef names a request in namespace %q: a HealthRecord is shown only on requests of its own namespace (or when it is in the platform namespace %s), so this one is ignored",
			namespace, r.PlatformNamespace)
		return true
	})
}

// request reads the request the records are about. missing is ReasonPromiseNotFound or
// ReasonResourceNotFound when it does not exist; request then holds its kind, if known.
func (r *HealthRecordReconciler) request(ctx context.Context, promiseName, name, namespace string) (request *unstructured.Unstructured, missing string, _ error) {
	request = &unstructured.Unstructured{}
	promise := &v1alpha1.Promise{}
	if err := r.Get(ctx, client.ObjectKey{Name: promiseName}, promise); err != nil {
		if apierrors.IsNotFound(err) {
			return request, v1alpha1.ReasonPromiseNotFound, nil
		}
		return nil, "", err
	}
	crd, err := promiseapi.CRD(promise)
	if err != nil || crd == nil {
		return request, v1alpha1.ReasonPromiseNotFound, nil
	}
	request.SetGroupVersionKind(promiseapi.GroupVersionKind(crd))
	if !promiseapi.Namespaced(crd) {
		namespace = ""
	}
	if err := r.RequestReader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, request); err != nil {
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			return request, v1alpha1.ReasonResourceNotFound, nil
		}
		return nil, "", fmt.Errorf("read %s %s/%s: %w", request.GetKind(), namespace, name, err)
	}
	return request, "", nil
}

func (r *HealthRecordReconciler) missingMessage(rec *v1alpha1.HealthRecord, missing string, request *unstructured.Unstructured) string {
	if missing == v1alpha1.ReasonPromiseNotFound {
		return fmt.Sprintf("data.promiseRef names Promise %q, which does not exist or has no API; the record is shown on no request until it does",
			rec.Data.PromiseRef.Name)
	}
	return fmt.Sprintf("data.resourceRef names %s %q in namespace %q of Promise %s, which does not exist; check data.resourceRef (the record is shown once the request exists)",
		request.GetKind(), rec.Data.ResourceRef.Name, rec.Data.ResourceRef.Namespace, rec.Data.PromiseRef.Name)
}

// writeHealth sets the request's status.healthStatus from its live records, or removes it when
// there are none, and records an Event on the request when its state changed.
func (r *HealthRecordReconciler) writeHealth(ctx context.Context, request *unstructured.Unstructured, live []*v1alpha1.HealthRecord) error {
	current, hadHealth, _ := unstructured.NestedMap(request.Object, "status", "healthStatus")
	var desired map[string]any
	if len(live) > 0 {
		var err error
		if desired, err = healthStatus(live); err != nil {
			return err
		}
	}
	switch {
	case !hadHealth && desired == nil:
		return nil
	case hadHealth && desired != nil && sameJSON(current, desired):
		return nil
	}
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"healthStatus": desired}})
	if err != nil {
		return err
	}
	if err := r.Status().Patch(ctx, request, client.RawPatch(types.MergePatchType, patch)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("write the health of %s %s/%s: %w", request.GetKind(), request.GetNamespace(), request.GetName(), err)
	}
	before, _ := current["state"].(string)
	after, _ := desired["state"].(string)
	if after != "" && after != before {
		eventType := corev1.EventTypeWarning
		if after == v1alpha1.HealthStateHealthy || after == v1alpha1.HealthStateReady {
			eventType = corev1.EventTypeNormal
		}
		r.Recorder.Eventf(request, nil, eventType, v1alpha1.ReasonHealthRecord, "Reconcile", "Health state is %s", after)
	}
	return nil
}

// healthStatus is status.healthStatus of a request with these records.
func healthStatus(records []*v1alpha1.HealthRecord) (map[string]any, error) {
	state := v1alpha1.HealthStateReady
	entries := make([]any, 0, len(records))
	for _, rec := range records {
		entry := map[string]any{
			"state":   rec.Data.State,
			"lastRun": rec.Data.LastRun,
			"source":  map[string]any{"name": rec.Name, "namespace": rec.Namespace},
		}
		if rec.Data.Details != nil && len(rec.Data.Details.Raw) > 0 {
			var details any
			if err := json.Unmarshal(rec.Data.Details.Raw, &details); err != nil {
				return nil, fmt.Errorf("the details of HealthRecord %s/%s: %w", rec.Namespace, rec.Name, err)
			}
			entry["details"] = details
		}
		if p, ok := healthStatePriority[rec.Data.State]; ok && p < healthStatePriority[state] {
			state = rec.Data.State
		}
		entries = append(entries, entry)
	}
	return map[string]any{"state": state, "healthRecords": entries}, nil
}

// sameJSON compares two values as JSON, where 1 and 1.0 are one number.
func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

func (r *HealthRecordReconciler) addFinalizer(ctx context.Context, rec *v1alpha1.HealthRecord) error {
	if controllerutil.ContainsFinalizer(rec, v1alpha1.FinalizerHealthRecordCleanup) {
		return nil
	}
	base := rec.DeepCopy()
	controllerutil.AddFinalizer(rec, v1alpha1.FinalizerHealthRecordCleanup)
	err := r.Patch(ctx, rec, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
	return client.IgnoreNotFound(err)
}

func (r *HealthRecordReconciler) removeFinalizers(ctx context.Context, records []*v1alpha1.HealthRecord) error {
	for _, rec := range records {
		if !controllerutil.ContainsFinalizer(rec, v1alpha1.FinalizerHealthRecordCleanup) {
			continue
		}
		base := rec.DeepCopy()
		controllerutil.RemoveFinalizer(rec, v1alpha1.FinalizerHealthRecordCleanup)
		if err := r.Patch(ctx, rec, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("remove the finalizer of HealthRecord %s/%s: %w", rec.Namespace, rec.Name, err)
		}
	}
	return nil
}
