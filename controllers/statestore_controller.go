package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/controllers/writers"
	"kratix.dev/kratix/statestore"
)

// DefaultRevalidateInterval is how often a ready state store is validated again.
const DefaultRevalidateInterval = 10 * time.Minute

// storeRequest names a state store of either kind. Both kinds are cluster-scoped and may share a
// name, so the kind is part of the request.
type storeRequest struct {
	Kind string
	Name string
}

// storeKind adapts one kind of state store to the shared StateStoreReconciler.
type storeKind interface {
	// kind is the Kind, v1alpha1.KindGitStateStore or v1alpha1.KindBucketStateStore.
	kind() string
	// newObject returns an empty object of the kind.
	newObject() client.Object
	// view returns what the reconciler reads and writes of obj, an object of the kind.
	view(obj client.Object) storeView
}

// storeView is the part of a state store that the reconciler needs, whatever its kind.
type storeView struct {
	// secretRef is the store's Secret; nil when it names none.
	secretRef *v1alpha1.SecretRef
	// requiredKeys are the Secret keys the store's authentication method needs.
	requiredKeys []string
	// status points into the object.
	status *v1alpha1.StateStoreStatus
	// target describes the store for messages; its URL or endpoint has no userinfo
	// (statestore.RedactURL).
	target string
}

type gitStoreKind struct{}

func (gitStoreKind) kind() string             { return v1alpha1.KindGitStateStore }
func (gitStoreKind) newObject() client.Object { return &v1alpha1.GitStateStore{} }
func (gitStoreKind) view(obj client.Object) storeView {
	s := obj.(*v1alpha1.GitStateStore)
	keys := []string{v1alpha1.SecretKeyUsername, v1alpha1.SecretKeyPassword}
	switch s.Spec.AuthMethod {
	case v1alpha1.AuthMethodSSH:
		keys = []string{v1alpha1.SecretKeySSHPrivateKey, v1alpha1.SecretKeyKnownHosts}
	case v1alpha1.AuthMethodGitHubApp:
		keys = []string{v1alpha1.SecretKeyAppID, v1alpha1.SecretKeyInstallationID, v1alpha1.SecretKeyPrivateKey}
	}
	branch := s.Spec.Branch
	if branch == "" {
		branch = v1alpha1.DefaultBranch
	}
	return storeView{
		secretRef:    s.Spec.SecretRef,
		requiredKeys: keys,
		status:       &s.Status,
		target:       fmt.Sprintf("repository %q branch %q", statestore.RedactURL(s.Spec.URL), branch),
	}
}

type bucketStoreKind struct{}

func (bucketStoreKind) kind() string             { return v1alpha1.KindBucketStateStore }
func (bucketStoreKind) newObject() client.Object { return &v1alpha1.BucketStateStore{} }
func (bucketStoreKind) view(obj client.Object) storeView {
	s := obj.(*v1alpha1.BucketStateStore)
	var keys []string
	if s.Spec.AuthMethod != v1alpha1.AuthMethodIAM {
		keys = []string{v1alpha1.SecretKeyAccessKeyID, v1alpha1.SecretKeySecretAccessKey}
	}
	return storeView{
		secretRef:    s.Spec.SecretRef,
		requiredKeys: keys,
		status:       &s.Status,
		target:       fmt.Sprintf("bucket %q at %s", s.Spec.BucketName, statestore.RedactURL(s.Spec.Endpoint)),
	}
}

// storeKinds are the kinds the StateStoreReconciler serves, by Kind.
var storeKinds = map[string]storeKind{
	v1alpha1.KindGitStateStore:    gitStoreKind{},
	v1alpha1.KindBucketStateStore: bucketStoreKind{},
}

// +kubebuilder:rbac:groups=platform.kratix.io,resources=gitstatestores;bucketstatestores,verbs=get;list;watch
// +kubebuilder:rbac:groups=platform.kratix.io,resources=gitstatestores/status;bucketstatestores/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// StateStoreReconciler validates GitStateStores and BucketStateStores: it reads the store's
// Secret, has the writer registry build (or keep) the store's writer, validates it, and reports
// the result in the Ready condition and status.status.
type StateStoreReconciler struct {
	// Client reads stores from the cache and writes their status.
	Client client.Client
	// SecretReader reads Secrets from the API server: the cache holds only their metadata, so
	// that the manager never caches every Secret of the cluster.
	SecretReader client.Reader
	// SecretNamespaces are where stores' Secrets may be; a store that names a Secret elsewhere
	// is not Ready and its Secret is never read.
	SecretNamespaces SecretNamespaces
	Writers          *writers.Registry
	Recorder         events.EventRecorder
	// RevalidateInterval is how often a ready store is validated again.
	RevalidateInterval time.Duration
}

// Reconcile validates one state store.
func (r *StateStoreReconciler) Reconcile(ctx context.Context, req storeRequest) (result ctrl.Result, retErr error) {
	kind, ok := storeKinds[req.Kind]
	if !ok {
		return ctrl.Result{}, reconcile.TerminalError(fmt.Errorf("unknown kind of state store %q", req.Kind))
	}
	key := writers.Key{Kind: req.Kind, Name: req.Name}
	store := kind.newObject()
	if err := r.Client.Get(ctx, client.ObjectKey{Name: req.Name}, store); err != nil {
		if apierrors.IsNotFound(err) {
			r.Writers.Remove(key)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("get %s: %w", key, err)
	}
	if !store.GetDeletionTimestamp().IsZero() {
		// Someone else's finalizer keeps it; nothing is written to a store on its way out.
		r.Writers.Remove(key)
		return ctrl.Result{}, nil
	}
	base := store.DeepCopyObject().(client.Object)

	facts, err := r.observe(ctx, kind, store)
	if err != nil {
		// No verdict (the API server or ctx failed): the status stays as it was.
		return ctrl.Result{}, err
	}
	defer func() {
		result, retErr = afterStatusPatch(result, retErr, r.patchStatus(ctx, kind, base, store, facts))
	}()
	return storeResult(facts, r.RevalidateInterval)
}

// observe reads the store's Secret, gets its writer from the registry and validates it. It
// returns an error only when it could not reach a verdict.
func (r *StateStoreReconciler) observe(ctx context.Context, kind storeKind, store client.Object) (storeFacts, error) {
	log := logr.FromContextOrDiscard(ctx)
	key := writers.Key{Kind: kind.kind(), Name: store.GetName()}
	v := kind.view(store)
	f := storeFacts{target: v.target, requiredKeys: v.requiredKeys}

	secret, err := r.readSecret(ctx, v, &f)
	if err != nil {
		return f, err
	}
	if f.secretForbidden || f.secretMissing || len(f.missingKeys) > 0 {
		// Without usable credentials the old writer must not keep writing.
		r.Writers.Remove(key)
		return f, nil
	}
	w, built, err := r.Writers.Ensure(store, secret)
	if errors.Is(err, statestore.ErrClosed) {
		// The engine is stopping: that says nothing about the store.
		return f, fmt.Errorf("validate %s: %w", key, err)
	}
	if err != nil {
		f.writerErr = redactError(err, secret)
		return f, nil
	}
	if built {
		log.V(1).Info("built a state-store writer")
	}
	err = w.Validate(ctx)
	if ctx.Err() != nil {
		return f, fmt.Errorf("validate %s: %w", key, ctx.Err())
	}
	r.Writers.SetReady(key, w, err == nil)
	f.writerErr = redactError(err, secret)
	return f, nil
}

// readSecret reads the store's Secret into the facts and returns its data. A missing Secret or
// missing keys are facts; other failures are errors.
func (r *StateStoreReconciler) readSecret(ctx context.Context, v storeView, f *storeFacts) (map[string][]byte, error) {
	if v.secretRef == nil {
		return nil, nil
	}
	ref := secretKey(v.secretRef)
	f.secretRef = ref.String()
	if !r.SecretNamespaces.Allows(ref.Namespace) {
		// Never read: whoever may create a store must not be able to send a Secret of any
		// namespace to a server of their choice.
		f.secretForbidden, f.secretNamespaces = true, r.SecretNamespaces.List()
		return nil, nil
	}
	var secret corev1.Secret
	if err := r.SecretReader.Get(ctx, ref, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			f.secretMissing = true
			return nil, nil
		}
		return nil, fmt.Errorf("read Secret %s: %w", ref, err)
	}
	for _, k := range v.requiredKeys {
		if len(secret.Data[k]) == 0 {
			f.missingKeys = append(f.missingKeys, k)
		}
	}
	return secret.Data, nil
}

// patchStatus writes the Ready condition and status.status computed from the facts, once, and
// emits an Event when the condition changed.
func (r *StateStoreReconciler) patchStatus(ctx context.Context, kind storeKind, base, store client.Object, f storeFacts) error {
	status := kind.view(store).status
	before := slices.Clone(kind.view(base).status.Conditions)
	setStoreReadyCondition(status, store.GetGeneration(), f)
	if wrote, err := writeStatus(ctx, r.Client, base, store, kind.view(base).status, status); !wrote {
		return err
	}
	recordTransition(r.Recorder, store, before, status.Conditions, v1alpha1.ConditionReady, "Validate")
	return nil
}

// secretKey is the object key of a SecretRef, in namespace "default" when it names none.
func secretKey(ref *v1alpha1.SecretRef) client.ObjectKey {
	ns := ref.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	return client.ObjectKey{Namespace: ns, Name: ref.Name}
}

// setupWithManager registers the controller "statestore": both kinds of store, and the Secrets
// they name (metadata only), mapped to exactly the stores that name them.
func (r *StateStoreReconciler) setupWithManager(mgr ctrl.Manager, concurrency int) error {
	b := builder.TypedControllerManagedBy[storeRequest](mgr).
		Named("statestore").
		WithOptions(controller.TypedOptions[storeRequest]{MaxConcurrentReconciles: concurrency}).
		WithLogConstructor(func(req *storeRequest) logr.Logger {
			log := mgr.GetLogger().WithValues("controller", "statestore")
			if req != nil {
				log = log.WithValues("kind", req.Kind, "stateStore", req.Name)
			}
			return log
		})
	for _, kind := range []storeKind{gitStoreKind{}, bucketStoreKind{}} {
		b = b.Watches(kind.newObject(),
			handler.TypedEnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []storeRequest {
				return []storeRequest{{Kind: kind.kind(), Name: obj.GetName()}}
			}),
			// Status writes, including this controller's own, do not change the generation.
			builder.WithPredicates(predicate.GenerationChangedPredicate{}))
	}
	b = b.Watches(&corev1.Secret{},
		handler.TypedEnqueueRequestsFromMapFunc(storesOfSecret(mgr.GetClient(), mgr.GetLogger().WithName("statestore"))),
		builder.OnlyMetadata)
	return b.Complete(r)
}

// storesOfSecret maps a Secret to the stores of both kinds that name it, through the field index.
func storesOfSecret(c client.Reader, log logr.Logger) handler.TypedMapFunc[client.Object, storeRequest] {
	return func(ctx context.Context, secret client.Object) []storeRequest {
		ref := client.ObjectKeyFromObject(secret).String()
		var reqs []storeRequest
		var gits v1alpha1.GitStateStoreList
		if err := c.List(ctx, &gits, client.MatchingFields{indexSecretRef: ref}); err != nil {
			log.Error(err, "list GitStateStores of a Secret", "secret", ref)
		}
		for _, s := range gits.Items {
			reqs = append(reqs, storeRequest{Kind: v1alpha1.KindGitStateStore, Name: s.Name})
		}
		var buckets v1alpha1.BucketStateStoreList
		if err := c.List(ctx, &buckets, client.MatchingFields{indexSecretRef: ref}); err != nil {
			log.Error(err, "list BucketStateStores of a Secret", "secret", ref)
		}
		for _, s := range buckets.Items {
			reqs = append(reqs, storeRequest{Kind: v1alpha1.KindBucketStateStore, Name: s.Name})
		}
		return reqs
	}
}
