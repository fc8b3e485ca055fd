package controllers

import (
	"context"
	"fmt"
	"strings"

	"kratix.dev/kratix/internal/names"

	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/yaml"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
	"kratix.dev/kratix/promiseapi"
	"kratix.dev/kratix/scheduling"
)

// staticDependenciesWork is the name of a Promise's Work of static dependencies.
func staticDependenciesWork(promise string) string {
	return names.Shorten(promise + "-static-deps")
}

// ensureDependencies keeps the Work of the Promise's static dependencies: one file with every
// dependency as a YAML document, scheduled by the Promise's destinationSelectors, updated in
// place; deleted when the list is emptied.
func (r *PromiseReconciler) ensureDependencies(ctx context.Context, promise *v1alpha1.Promise, f *promiseFacts) error {
	key := client.ObjectKey{Namespace: r.Driver.platformNamespace(), Name: staticDependenciesWork(promise.Name)}
	work := &v1alpha1.Work{}
	err := r.Client.Get(ctx, key, work)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("get Work %s: %w", key, err)
	}
	exists := err == nil
	if len(promise.Spec.Dependencies) == 0 {
		if exists {
			if err := r.Client.Delete(ctx, work); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("delete Work %s: %w", key, err)
			}
		}
		return nil
	}
	spec, err := dependenciesWorkSpec(promise)
	if err != nil {
		f.invalidDependencies = err
		return nil
	}
	if !exists {
		work = &v1alpha1.Work{
			ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace, Labels: map[string]string{
				v1alpha1.LabelPromiseName: names.LabelValue(promise.Name),
				v1alpha1.LabelWorkType:    v1alpha1.WorkTypeStaticDependency,
			}},
			Spec: spec,
		}
		if err := r.Client.Create(ctx, work); err != nil {
			return fmt.Errorf("create Work %s: %w", key, err)
		}
		return nil
	}
	if equalWorkSpec(work.Spec, spec) {
		return nil
	}
	work.Spec = spec
	if err := r.Client.Update(ctx, work); err != nil {
		return fmt.Errorf("update Work %s: %w", key, err)
	}
	return nil
}

// dependenciesWorkSpec is the Work spec of a Promise's static dependencies.
func dependenciesWorkSpec(promise *v1alpha1.Promise) (v1alpha1.WorkSpec, error) {
	var b strings.Builder
	for i, d := range promise.Spec.Dependencies {
		data, err := yaml.Marshal(d.Object)
		if err != nil {
			return v1alpha1.WorkSpec{}, fmt.Errorf("dependency %d: %w", i, err)
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	content, err := v1alpha1.EncodeContent([]byte(b.String()))
	if err != nil {
		return v1alpha1.WorkSpec{}, err
	}
	group := v1alpha1.WorkloadGroup{
		ID:        scheduling.GroupID(v1alpha1.RootDirectory),
		Directory: v1alpha1.RootDirectory,
		Workloads: []v1alpha1.Workload{{Filepath: promise.Name + "-dependencies.yaml", Content: content}},
	}
	for _, s := range promise.Spec.DestinationSelectors {
		group.DestinationSelectors = append(group.DestinationSelectors, v1alpha1.WorkloadGroupScheduling{MatchLabels: s.MatchLabels, Source: v1alpha1.SelectorSourcePromise})
	}
	return v1alpha1.WorkSpec{PromiseName: promise.Name, WorkloadGroups: []v1alpha1.WorkloadGroup{group}}, nil
}

// equalWorkSpec compares Work specs by their decoded content: gzip output may differ between
// encodings of the same bytes.
func equalWorkSpec(a, b v1alpha1.WorkSpec) bool {
	if len(a.WorkloadGroups) != len(b.WorkloadGroups) || a.PromiseName != b.PromiseName {
		return false
	}
	for i := range a.WorkloadGroups {
		ga, gb := a.WorkloadGroups[i], b.WorkloadGroups[i]
		if ga.ID != gb.ID || len(ga.Workloads) != len(gb.Workloads) || fmt.Sprint(ga.DestinationSelectors) != fmt.Sprint(gb.DestinationSelectors) {
			return false
		}
		for j := range ga.Workloads {
			ca, errA := v1alpha1.DecodeContent(ga.Workloads[j].Content)
			cb, errB := v1alpha1.DecodeContent(gb.Workloads[j].Content)
			if errA != nil || errB != nil || ga.Workloads[j].Filepath != gb.Workloads[j].Filepath || string(ca) != string(cb) {
				return false
			}
		}
	}
	return true
}

// runDeleteWorkflow runs the Promise Delete workflow; done once it finished.
func (r *PromiseReconciler) runDeleteWorkflow(ctx context.Context, promise *v1alpha1.Promise, f *promiseFacts) (bool, error) {
	w := pipeline.Workflow{Type: v1alpha1.WorkflowTypePromise, Action: v1alpha1.WorkflowActionDelete, Promise: promise}
	done, decision, invalid, err := r.Driver.runDelete(ctx, r.Recorder, promise, w)
	f.decision, f.invalidWorkflow = decision, invalid
	if err == nil && invalid == nil && !done && decision.Verdict != pipeline.Fail {
		f.waitingFor = "the Promise Delete workflow"
	}
	return done, err
}

// deleteRequests deletes every request of the Promise's API; done once none is left.
func (r *PromiseReconciler) deleteRequests(ctx context.Context, promise *v1alpha1.Promise, f *promiseFacts) (bool, error) {
	crd, err := r.installedCRD(ctx, promise)
	if err != nil || crd == nil {
		return crd == nil && err == nil, err
	}
	gvk := promiseapi.GroupVersionKind(crd)
	if gvk.Version == "" {
		return true, nil
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	// The API server, not the cache: the resource controller's informer may be stopped.
	if err := r.APIReader.List(ctx, list); err != nil {
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, fmt.Errorf("list the Promise's requests: %w", err)
	}
	if len(list.Items) == 0 {
		return true, nil
	}
	if err := r.Resources.ensure(ctx, promise.Name, gvk); err != nil {
		return false, err
	}
	if _, err := deleteAll(ctx, r.Client, list.Items); err != nil {
		return false, err
	}
	f.waitingFor = fmt.Sprintf("%d resource requests to be deleted", len(list.Items))
	f.waitingForRequests = true
	return false, nil
}

// deleteWorks deletes the Promise's own Works; done once none is left.
func (r *PromiseReconciler) deleteWorks(ctx context.Context, promise *v1alpha1.Promise, f *promiseFacts) (bool, error) {
	works, err := promiseWorks(ctx, r.Client, promise.Name)
	if err != nil {
		return false, err
	}
	left, err := deleteAll(ctx, r.Client, works)
	if err != nil {
		return false, err
	}
	if left > 0 {
		f.waitingFor = fmt.Sprintf("%d Works to remove their files", left)
		return false, nil
	}
	// Nothing may run a revision once the Promise's requests are gone; a Promise created again
	// under the name starts its revisions afresh.
	revisions, err := listRevisions(ctx, r.Client, promise.Name)
	if err != nil {
		return false, err
	}
	if left, err = deleteAll(ctx, r.Client, revisions); err != nil || left == 0 {
		return err == nil, err
	}
	f.waitingFor = fmt.Sprintf("%d PromiseRevisions to go", left)
	return false, nil
}

// applyManagerAccess applies the ClusterRole that gives the engine access to the requests of
// the Promise's API (promiseapi.ManagerAccess), owned by the Promise.
func (r *PromiseReconciler) applyManagerAccess(ctx context.Context, promise *v1alpha1.Promise, crd *apiextensionsv1.CustomResourceDefinition) error {
	role := promiseapi.ManagerAccess(promise, crd)
	if err := controllerutil.SetControllerReference(promise, role, r.Client.Scheme()); err != nil {
		return fmt.Errorf("own ClusterRole %s: %w", role.Name, err)
	}
	if err := r.Client.Patch(ctx, role, client.Apply, fieldOwner, client.ForceOwnership); err != nil {
		return fmt.Errorf("apply ClusterRole %s: %w", role.Name, err)
	}
	return nil
}

// deleteCRD stops the resource controller and deletes the CRD, and then the engine's
// ClusterRole for its requests; done once both are gone.
func (r *PromiseReconciler) deleteCRD(ctx context.Context, promise *v1alpha1.Promise, f *promiseFacts) (bool, error) {
	r.Resources.stop(promise.Name)
	crd, err := r.installedCRD(ctx, promise)
	if err != nil {
		return false, err
	}
	if crd == nil {
		role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: promiseapi.ManagerAccessName(promise.Name)}}
		if err := r.Client.Delete(ctx, role); client.IgnoreNotFound(err) != nil {
			return false, fmt.Errorf("delete ClusterRole %s: %w", role.Name, err)
		}
		return true, nil
	}
	if crd.DeletionTimestamp.IsZero() {
		if err := r.Client.Delete(ctx, crd); client.IgnoreNotFound(err) != nil {
			return false, fmt.Errorf("delete CRD %s: %w", crd.Name, err)
		}
	}
	f.waitingFor = fmt.Sprintf("CRD %s to be deleted", crd.Name)
	return false, nil
}

// installedCRD is the Promise's CRD as the cache has it, nil when there is none (or it is not
// the Promise's).
func (r *PromiseReconciler) installedCRD(ctx context.Context, promise *v1alpha1.Promise) (*apiextensionsv1.CustomResourceDefinition, error) {
	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := r.Client.List(ctx, &crds, client.MatchingLabels{v1alpha1.LabelPromiseName: names.LabelValue(promise.Name)}); err != nil {
		return nil, fmt.Errorf("list the Promise's CRD: %w", err)
	}
	if len(crds.Items) == 0 {
		return nil, nil
	}
	return &crds.Items[0], nil
}
