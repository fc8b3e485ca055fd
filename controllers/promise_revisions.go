package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/names"
	"kratix.dev/kratix/pipeline"
)

// +kubebuilder:rbac:groups=platform.kratix.io,resources=promiserevisions,verbs=get;list;watch;create;update;patch;delete;delete-latest-revisions
// +kubebuilder:rbac:groups=platform.kratix.io,resources=promiserevisions/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=platform.kratix.io,resources=promiserevisions/finalizers,verbs=update

// promiseVersion is the Promise's kratix.io/promise-version label, or not-set.
func promiseVersion(p *v1alpha1.Promise) string {
	if v := p.Labels[v1alpha1.LabelPromiseVersion]; v != "" {
		return v
	}
	return v1alpha1.UnversionedPromiseVersion
}

// revisionName is the name of the PromiseRevision of a Promise's version, as upstream Kratix
// derives it: "<promise>-<version>", shortened with a digest when too long.
func revisionName(promise, version string) string {
	return names.Shorten(promise + "-" + version)
}

// listRevisions lists the Promise's PromiseRevisions from the cache.
func listRevisions(ctx context.Context, c client.Reader, promise string) ([]v1alpha1.PromiseRevision, error) {
	var list v1alpha1.PromiseRevisionList
	if err := c.List(ctx, &list, client.MatchingLabels{v1alpha1.LabelPromiseName: names.LabelValue(promise)}); err != nil {
		return nil, fmt.Errorf("list the Promise's revisions: %w", err)
	}
	out := list.Items[:0]
	for _, rev := range list.Items {
		if rev.Spec.PromiseRef.Name == promise {
			out = append(out, rev)
		}
	}
	return out, nil
}

// revisionWithHash is the revision whose spec has the digest, preferring the one of version
// (upstream's name) over a baseline copy; nil when none.
func revisionWithHash(revisions []v1alpha1.PromiseRevision, hash string) *v1alpha1.PromiseRevision {
	var found *v1alpha1.PromiseRevision
	for i := range revisions {
		if hash == "" || revisions[i].Labels[v1alpha1.LabelSpecHash] != hash {
			continue
		}
		if found == nil || found.Labels[v1alpha1.LabelRolloutBaseline] == v1alpha1.LabelTriggerValue {
			found = &revisions[i]
		}
	}
	return found
}

// revisionOfVersion is the (non-baseline) revision of a version; nil when none.
func revisionOfVersion(revisions []v1alpha1.PromiseRevision, version string) *v1alpha1.PromiseRevision {
	for i := range revisions {
		if revisions[i].Spec.Version == version && revisions[i].Labels[v1alpha1.LabelRolloutBaseline] != v1alpha1.LabelTriggerValue {
			return &revisions[i]
		}
	}
	return nil
}

// latestRevision is the revision labelled latest; nil when none.
func latestRevision(revisions []v1alpha1.PromiseRevision) *v1alpha1.PromiseRevision {
	for i := range revisions {
		if revisions[i].Labels[v1alpha1.LabelLatestRevision] == v1alpha1.LabelTriggerValue {
			return &revisions[i]
		}
	}
	return nil
}

// ensureRevision keeps one PromiseRevision per version of the Promise, as upstream Kratix does:
// the revision of the Promise's version holds its spec and is the latest; the others keep the
// specs of older versions. When the spec changes without a new version, upstream rewrites the
// version's revision; with a rollout policy the old spec is first kept in a baseline revision,
// since requests the rollout has not reached still run it. It records the revisions, the latest
// one before this reconcile, and the spec's digest in the facts. It writes nothing when the
// revision is up to date.
func (r *PromiseReconciler) ensureRevision(ctx context.Context, promise *v1alpha1.Promise, f *promiseFacts) error {
	hash, err := pipeline.PromiseSpecHash(&promise.Spec)
	if err != nil {
		return err
	}
	revisions, err := listRevisions(ctx, r.Client, promise.Name)
	if err != nil {
		return err
	}
	f.specHash = hash
	f.previousLatest = latestRevision(revisions)
	version := promiseVersion(promise)
	current := revisionOfVersion(revisions, version)
	if current != nil && current.Labels[v1alpha1.LabelSpecHash] == hash && current == f.previousLatest && current.Status.Latest {
		f.revisions, f.revision = revisions, current
		return nil
	}
	var baseline *v1alpha1.PromiseRevision
	if current != nil && current.Labels[v1alpha1.LabelSpecHash] != hash && hasRolloutPolicy(promise) {
		if baseline, err = r.keepBaseline(ctx, promise, current, revisions); err != nil {
			return err
		}
	}
	rev := &v1alpha1.PromiseRevision{}
	rev.Name = revisionName(promise.Name, version)
	if current != nil {
		rev.Name = current.Name
	}
	result, err := controllerutil.CreateOrUpdate(ctx, r.Client, rev, func() error {
		if rev.Labels == nil {
			rev.Labels = map[string]string{}
		}
		rev.Labels[v1alpha1.LabelPromiseName] = names.LabelValue(promise.Name)
		rev.Labels[v1alpha1.LabelLatestRevision] = v1alpha1.LabelTriggerValue
		rev.Labels[v1alpha1.LabelSpecHash] = hash
		rev.Labels[v1alpha1.LabelPromiseVersion] = names.LabelValue(version)
		rev.Spec = v1alpha1.PromiseRevisionSpec{PromiseRef: v1alpha1.PromiseRef{Name: promise.Name}, Version: version, PromiseSpec: *promise.Spec.DeepCopy()}
		return controllerutil.SetControllerReference(promise, rev, r.Client.Scheme())
	})
	if err != nil {
		return fmt.Errorf("write PromiseRevision %s: %w", rev.Name, err)
	}
	if result == controllerutil.OperationResultCreated {
		r.Recorder.Eventf(promise, rev, corev1.EventTypeNormal, v1alpha1.ReasonRevisionCreated, "Revise", "Revision %s created", rev.Name)
	}
	if !rev.Status.Latest {
		rev.Status.Latest = true
		if err := r.Client.Status().Update(ctx, rev); err != nil {
			return fmt.Errorf("mark PromiseRevision %s latest: %w", rev.Name, err)
		}
	}
	for i := range revisions {
		if revisions[i].Name != rev.Name {
			if err := r.unsetLatest(ctx, &revisions[i]); err != nil {
				return err
			}
		}
	}
	// The cache may not show the writes yet: the facts hold what was written.
	for i := range revisions {
		if revisions[i].Name != rev.Name {
			f.revisions = append(f.revisions, revisions[i])
		}
	}
	f.revisions = append(f.revisions, *rev)
	if baseline != nil {
		f.revisions = append(f.revisions, *baseline)
	}
	f.revision = &f.revisions[len(f.revisions)-1]
	if baseline != nil {
		f.revision = &f.revisions[len(f.revisions)-2]
	}
	return nil
}

// unsetLatest takes the latest mark off a revision that is no longer the newest.
func (r *PromiseReconciler) unsetLatest(ctx context.Context, rev *v1alpha1.PromiseRevision) error {
	if rev.Labels[v1alpha1.LabelLatestRevision] == v1alpha1.LabelTriggerValue {
		if err := removeLabel(ctx, r.Client, rev, v1alpha1.LabelLatestRevision); err != nil {
			return err
		}
	}
	if rev.Status.Latest {
		rev.Status.Latest = false
		if err := r.Client.Status().Update(ctx, rev); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("unmark PromiseRevision %s latest: %w", rev.Name, err)
		}
	}
	return nil
}

// keepBaseline copies a revision about to be rewritten into a baseline revision named after its
// digest, unless a revision of that digest exists; it returns the copy it made.
func (r *PromiseReconciler) keepBaseline(ctx context.Context, promise *v1alpha1.Promise, old *v1alpha1.PromiseRevision, revisions []v1alpha1.PromiseRevision) (*v1alpha1.PromiseRevision, error) {
	hash := old.Labels[v1alpha1.LabelSpecHash]
	for i := range revisions {
		if revisions[i].Name != old.Name && revisions[i].Labels[v1alpha1.LabelSpecHash] == hash {
			return nil, nil
		}
	}
	keep := &v1alpha1.PromiseRevision{}
	keep.Name = names.Shorten(old.Name + "-" + hash[:min(8, len(hash))])
	keep.Labels = map[string]string{
		v1alpha1.LabelPromiseName:     names.LabelValue(promise.Name),
		v1alpha1.LabelSpecHash:        hash,
		v1alpha1.LabelRolloutBaseline: v1alpha1.LabelTriggerValue,
		v1alpha1.LabelPromiseVersion:  names.LabelValue(old.Spec.Version),
	}
	keep.Spec = *old.Spec.DeepCopy()
	if err := controllerutil.SetControllerReference(promise, keep, r.Client.Scheme()); err != nil {
		return nil, err
	}
	if err := r.Client.Create(ctx, keep); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("keep the previous spec in PromiseRevision %s: %w", keep.Name, err)
	}
	return keep, nil
}
