package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/conditions"
	"kratix.dev/kratix/internal/names"
)

// DefaultPromiseReleaseRetryInterval is how long after a failed install a PromiseRelease is
// tried again: the server may come back, the Secret may be fixed.
const DefaultPromiseReleaseRetryInterval = 30 * time.Second

// PromiseReleaseReconciler installs the Promise that a PromiseRelease's URL serves, keeps it at
// the release's version and URL, and deletes it with the release.
//
// A release is fetched again whenever its spec changes (a new version or URL is an upgrade) or
// its Promise is gone; otherwise the installed Promise stands. The Promise carries the label
// kratix.io/promise-release-name and the release as its controller owner.
type PromiseReleaseReconciler struct {
	client.Client
	// APIReader reads uncached: the releases' Secrets, and a release that the cache says is to
	// be fetched again (upToDate).
	APIReader client.Reader
	Recorder  events.EventRecorder
	// HTTPClient fetches the Promises; one with promiseFetchTimeout when nil.
	HTTPClient *http.Client
	// RetryInterval is how soon a failed install is tried again;
	// DefaultPromiseReleaseRetryInterval when zero.
	RetryInterval time.Duration
}

// +kubebuilder:rbac:groups=platform.kratix.io,resources=promisereleases,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=platform.kratix.io,resources=promisereleases/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=platform.kratix.io,resources=promisereleases/finalizers,verbs=update
// +kubebuilder:rbac:groups=platform.kratix.io,resources=promises,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

func (r *PromiseReleaseReconciler) setupWithManager(mgr ctrl.Manager, concurrency int) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("promiserelease").
		For(&v1alpha1.PromiseRelease{}, builder.WithPredicates(predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, deletionStarted()))).
		Owns(&v1alpha1.Promise{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		Complete(r)
}

func (r *PromiseReleaseReconciler) retry() ctrl.Result {
	if r.RetryInterval > 0 {
		return ctrl.Result{RequeueAfter: r.RetryInterval}
	}
	return ctrl.Result{RequeueAfter: DefaultPromiseReleaseRetryInterval}
}

func (r *PromiseReleaseReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	release := &v1alpha1.PromiseRelease{}
	if err := r.Get(ctx, req.NamespacedName, release); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !release.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, release)
	}
	if !controllerutil.ContainsFinalizer(release, v1alpha1.FinalizerPromiseCleanup) {
		base := release.DeepCopy()
		controllerutil.AddFinalizer(release, v1alpha1.FinalizerPromiseCleanup)
		if err := r.Patch(ctx, release, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{RequeueAfter: conflictRetry}, nil
			}
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}

	base := release.DeepCopy()
	result, report, err := r.install(ctx, release)
	var fe *fetchError
	switch {
	case errors.As(err, &fe):
		release.Status.Status = v1alpha1.PromiseReleaseStatusErrorInstalling
		conditions.Set(&release.Status.Conditions, v1alpha1.ConditionInstalled, metav1.ConditionFalse, fe.reason, fe.message, release.Generation)
		result, err = r.retry(), nil
	case err != nil:
		return ctrl.Result{}, err
	case !report:
		// The spec's version was filled in; the next reconcile installs.
		return result, nil
	}
	_, patchErr := writeStatus(ctx, r.Client, base, release, base.Status, release.Status)
	if patchErr == nil {
		recordTransition(r.Recorder, release, base.Status.Conditions, release.Status.Conditions, v1alpha1.ConditionInstalled, "Install")
	}
	return afterStatusPatch(result, err, patchErr)
}

// install brings the release's Promise to its version; a reason to report is a *fetchError. On
// success the release's status says Installed; when the release's version was empty and was
// filled in, report is false: there is nothing to report until the next reconcile installs.
func (r *PromiseReleaseReconciler) install(ctx context.Context, release *v1alpha1.PromiseRelease) (_ ctrl.Result, report bool, _ error) {
	installed, err := r.promisesOf(ctx, release)
	if err != nil {
		return ctrl.Result{}, true, err
	}
	if done, err := r.installedAlready(ctx, release, installed); err != nil || done {
		if done {
			release.Status.Status = v1alpha1.PromiseReleaseStatusInstalled
		}
		return ctrl.Result{}, true, err
	}
	src, err := r.source(ctx, release)
	if err != nil {
		return ctrl.Result{}, true, err
	}
	hc := r.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: promiseFetchTimeout}
	}
	fetched, err := fetchPromise(ctx, hc, src)
	if err != nil {
		return ctrl.Result{}, true, err
	}
	version, found := fetched.GetLabels()[v1alpha1.LabelPromiseVersion]
	switch {
	case !found || version == "":
		return ctrl.Result{}, true, &fetchError{v1alpha1.ReasonVersionLabelNotFound, fmt.Sprintf(
			"the Promise %q that %s serves has no %s label; a PromiseRelease installs only versioned Promises",
			fetched.GetName(), redactURL(src.url), v1alpha1.LabelPromiseVersion)}
	case release.Spec.Version == "":
		base := release.DeepCopy()
		release.Spec.Version = version
		if err := r.Patch(ctx, release, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{RequeueAfter: conflictRetry}, false, nil
			}
			return ctrl.Result{}, false, client.IgnoreNotFound(err)
		}
		return ctrl.Result{}, false, nil
	case version != release.Spec.Version:
		return ctrl.Result{}, true, &fetchError{v1alpha1.ReasonVersionNotMatching, fmt.Sprintf(
			"Version labels do not match, found: %s, expected: %s (the %s label of the Promise that %s serves); change spec.version or spec.sourceRef.url",
			version, release.Spec.Version, v1alpha1.LabelPromiseVersion, redactURL(src.url))}
	}
	promise, err := typedPromise(fetched)
	if err != nil {
		return ctrl.Result{}, true, &fetchError{v1alpha1.ReasonInvalidPromise, fmt.Sprintf("%s does not serve a valid Promise: %v", redactURL(src.url), err)}
	}
	if err := r.apply(ctx, release, promise); err != nil {
		return ctrl.Result{}, true, err
	}
	// A new URL may serve a Promise of another name: the release's earlier one goes.
	for i := range installed {
		old := &installed[i]
		if old.Name != promise.Name && old.DeletionTimestamp.IsZero() {
			if err := r.Delete(ctx, old); client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, true, fmt.Errorf("delete Promise %s, which the release no longer serves: %w", old.Name, err)
			}
		}
	}
	release.Status.Status = v1alpha1.PromiseReleaseStatusInstalled
	conditions.Set(&release.Status.Conditions, v1alpha1.ConditionInstalled, metav1.ConditionTrue, v1alpha1.ReasonInstalledSuccessfully,
		fmt.Sprintf("Promise %s installed at version %s from %s", promise.Name, version, redactURL(src.url)), release.Generation)
	return ctrl.Result{}, true, nil
}

// installedAlready reports whether the release's Promise is up to date (upToDate) by the cache's
// copy of the release or, when that says no, by the API server's: the cache may not have seen the
// status of the release's last install yet (the installed Promise's own events start a reconcile
// at once), and the Promise is not fetched again for that. A status computed from the cache's
// copy then meets a conflict.
func (r *PromiseReleaseReconciler) installedAlready(ctx context.Context, release *v1alpha1.PromiseRelease, installed []v1alpha1.Promise) (bool, error) {
	if r.upToDate(release, installed) {
		return true, nil
	}
	current := &v1alpha1.PromiseRelease{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(release), current); err != nil {
		return false, fmt.Errorf("read PromiseRelease %s: %w", release.Name, err)
	}
	return r.upToDate(current, installed), nil
}

// upToDate reports whether the release's Promise was installed from its current spec and is
// still there at its version.
func (r *PromiseReleaseReconciler) upToDate(release *v1alpha1.PromiseRelease, installed []v1alpha1.Promise) bool {
	c := meta.FindStatusCondition(release.Status.Conditions, v1alpha1.ConditionInstalled)
	if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != release.Generation || len(installed) != 1 {
		return false
	}
	p := installed[0]
	return p.DeletionTimestamp.IsZero() && release.Spec.Version != "" && p.Labels[v1alpha1.LabelPromiseVersion] == release.Spec.Version
}

// promisesOf lists the Promises labelled as the release's.
func (r *PromiseReleaseReconciler) promisesOf(ctx context.Context, release *v1alpha1.PromiseRelease) ([]v1alpha1.Promise, error) {
	var list v1alpha1.PromiseList
	if err := r.List(ctx, &list, client.MatchingLabels{v1alpha1.LabelPromiseReleaseName: names.LabelValue(release.Name)}); err != nil {
		return nil, fmt.Errorf("list the Promises of PromiseRelease %s: %w", release.Name, err)
	}
	out := list.Items[:0]
	for _, p := range list.Items {
		if owner := metav1.GetControllerOf(&p); owner == nil || owner.UID == release.UID {
			out = append(out, p)
		}
	}
	return out, nil
}

// source reads the release's URL and the Authorization header of its Secret.
func (r *PromiseReleaseReconciler) source(ctx context.Context, release *v1alpha1.PromiseRelease) (promiseSource, error) {
	src := promiseSource{url: release.Spec.SourceRef.URL}
	if release.Spec.SourceRef.Type != v1alpha1.SourceTypeHTTP {
		return src, &fetchError{v1alpha1.ReasonFailedToFetchPromise, fmt.Sprintf("spec.sourceRef.type %q is not supported; only http is", release.Spec.SourceRef.Type)}
	}
	if src.url == "" {
		return src, &fetchError{v1alpha1.ReasonFailedToFetchPromise, "spec.sourceRef.url is empty: set it to the URL that serves the Promise"}
	}
	ref := release.Spec.SourceRef.SecretRef
	if ref == nil {
		return src, nil
	}
	if ref.Namespace == "" || ref.Name == "" {
		return src, &fetchError{v1alpha1.ReasonInvalidSecret, "spec.sourceRef.secretRef needs both a name and a namespace (a PromiseRelease is cluster-scoped)"}
	}
	src.secret = ref.Namespace + "/" + ref.Name
	secret := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return src, &fetchError{v1alpha1.ReasonSecretNotFound, fmt.Sprintf("Secret %q of spec.sourceRef.secretRef not found", src.secret)}
		}
		return src, fmt.Errorf("read Secret %s: %w", src.secret, err)
	}
	header := string(bytes.TrimSpace(secret.Data[v1alpha1.SecretKeyAuthorizationHeader]))
	if header == "" {
		return src, &fetchError{v1alpha1.ReasonInvalidSecret, fmt.Sprintf(
			"Secret %q has no %s key: set it to the Authorization header to send (\"Basic <base64 of user:password>\" or \"Bearer <token>\")",
			src.secret, v1alpha1.SecretKeyAuthorizationHeader)}
	}
	src.authorization = header
	return src, nil
}

// typedPromise decodes the fetched Promise strictly, as kubectl apply would: a field the
// Promise API does not have is an error rather than dropped.
func typedPromise(obj *unstructured.Unstructured) (*v1alpha1.Promise, error) {
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	p := &v1alpha1.Promise{}
	if err := dec.Decode(p); err != nil {
		return nil, err
	}
	return p, nil
}

// apply creates or updates the release's Promise: its spec is the fetched one, its labels and
// annotations the fetched ones over those it had, and the release is its controller.
func (r *PromiseReleaseReconciler) apply(ctx context.Context, release *v1alpha1.PromiseRelease, fetched *v1alpha1.Promise) error {
	promise := &v1alpha1.Promise{ObjectMeta: metav1.ObjectMeta{Name: fetched.Name}}
	err := r.Get(ctx, client.ObjectKeyFromObject(promise), promise)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return err
	default:
		if other := promise.Labels[v1alpha1.LabelPromiseReleaseName]; other != "" && other != names.LabelValue(release.Name) {
			return &fetchError{v1alpha1.ReasonPromiseOwnedElsewhere, fmt.Sprintf(
				"Promise %s belongs to PromiseRelease %s (its %s label); delete that release or this one", promise.Name, other, v1alpha1.LabelPromiseReleaseName)}
		}
		if !promise.DeletionTimestamp.IsZero() {
			return &fetchError{v1alpha1.ReasonFailedToCreatePromise, fmt.Sprintf("Promise %s is being deleted; it is installed again once it is gone", promise.Name)}
		}
	}
	_, err = controllerutil.CreateOrUpdate(ctx, r.Client, promise, func() error {
		promise.Spec = fetched.Spec
		labels := maps.Clone(promise.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, fetched.Labels)
		labels[v1alpha1.LabelPromiseReleaseName] = names.LabelValue(release.Name)
		promise.Labels = labels
		if len(fetched.Annotations) > 0 {
			annotations := maps.Clone(promise.Annotations)
			if annotations == nil {
				annotations = map[string]string{}
			}
			maps.Copy(annotations, fetched.Annotations)
			promise.Annotations = annotations
		}
		return controllerutil.SetControllerReference(release, promise, r.Scheme())
	})
	var owned *controllerutil.AlreadyOwnedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &owned):
		return &fetchError{v1alpha1.ReasonPromiseOwnedElsewhere, fmt.Sprintf("Promise %s is controlled by %s %s; this release does not take it over", promise.Name, owned.Owner.Kind, owned.Owner.Name)}
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err):
		return &fetchError{v1alpha1.ReasonFailedToCreatePromise, fmt.Sprintf("the API server refused Promise %s: %v", promise.Name, err)}
	case apierrors.IsConflict(err):
		return err
	default:
		return fmt.Errorf("create or update Promise %s: %w", promise.Name, err)
	}
}

// finalize deletes the release's Promises and removes the finalizer once they are gone.
func (r *PromiseReleaseReconciler) finalize(ctx context.Context, release *v1alpha1.PromiseRelease) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(release, v1alpha1.FinalizerPromiseCleanup) {
		return ctrl.Result{}, nil
	}
	promises, err := r.promisesOf(ctx, release)
	if err != nil {
		return ctrl.Result{}, err
	}
	if len(promises) == 0 {
		base := release.DeepCopy()
		controllerutil.RemoveFinalizer(release, v1alpha1.FinalizerPromiseCleanup)
		err := r.Patch(ctx, release, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
		if apierrors.IsConflict(err) {
			return ctrl.Result{RequeueAfter: conflictRetry}, nil
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	for i := range promises {
		if promises[i].DeletionTimestamp.IsZero() {
			if err := r.Delete(ctx, &promises[i]); client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, fmt.Errorf("delete Promise %s: %w", promises[i].Name, err)
			}
		}
	}
	base := release.DeepCopy()
	conditions.Set(&release.Status.Conditions, v1alpha1.ConditionInstalled, metav1.ConditionFalse, v1alpha1.ReasonDeletingPromise,
		fmt.Sprintf("deleting Promise %s before the release goes", promises[0].Name), release.Generation)
	_, patchErr := writeStatus(ctx, r.Client, base, release, base.Status, release.Status)
	// The Promise's deletion wakes the release (Owns); the requeue is a safety net.
	return afterStatusPatch(ctrl.Result{RequeueAfter: r.retry().RequeueAfter}, nil, patchErr)
}
