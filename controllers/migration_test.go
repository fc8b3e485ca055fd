package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/promiseapi"
	"kratix.dev/kratix/scheduling"
)

// Upstream Kratix's finalizers, by the kind that carries them (its promise, dynamic resource
// request, work and workplacement controllers).
var (
	upstreamPromiseFinalizers = []string{
		"kratix.io/resource-request-cleanup", "kratix.io/dynamic-controller-dependant-resources-cleanup",
		"kratix.io/api-crd-cleanup", "kratix.io/dependencies-cleanup", "kratix.io/workflows-cleanup",
		"kratix.io/delete-workflows", "kratix.io/revision-cleanup",
	}
	upstreamRequestFinalizers = []string{
		"kratix.io/work-cleanup", "kratix.io/workflows-cleanup", "kratix.io/delete-workflows", "kratix.io/resource-binding-cleanup",
	}
	upstreamWorkFinalizers          = []string{"kratix.io/workplacements-cleanup"}
	upstreamWorkPlacementFinalizers = []string{
		"finalizers.workplacement.kratix.io/repo-cleanup", "finalizers.workplacement.kratix.io/kratix-dot-files-cleanup",
	}
)

// retired is every finalizer of upstream's that the engine does not handle itself.
func retired() []string {
	return slices.Concat(v1alpha1.LegacyPromiseFinalizers, v1alpha1.LegacyResourceFinalizers,
		v1alpha1.LegacyWorkFinalizers, v1alpha1.LegacyWorkPlacementFinalizers)
}

// noRetiredFinalizer fails when obj still carries one of upstream's retired finalizers.
func noRetiredFinalizer(obj client.Object) error {
	for _, f := range obj.GetFinalizers() {
		if slices.Contains(retired(), f) {
			return fmt.Errorf("%s %s still carries %s (%v)", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), f, obj.GetFinalizers())
		}
	}
	return nil
}

// Objects as upstream Kratix leaves them, created directly with the API before the engine
// starts: a Promise with its CRD, a resource request, the Promise's and the request's Works and
// their WorkPlacements, each with upstream's finalizers and labels (one placement labelled
// kratix.io/misplaced though its Destination matches) and upstream-style status. The engine
// takes them over (its finalizers replace the retired ones, its conditions are Ready), runs the
// request's workflow into the Work upstream wrote (no second Work), writes the files into the
// Git store, and deleting the request and then the Promise completes and removes their files.
func TestMigrationFromUpstreamKratix(t *testing.T) {
	ensureNamespace(t, v1alpha1.DefaultPlatformNS)
	f := newGitFixture(t)
	secret := basicAuthSecret(t, uniqueName("git-creds"), f.server.Username(), f.server.Password())
	// Created before the engine starts, deleted while it runs (last first), after the test.
	var made []client.Object
	keep := func(obj client.Object) {
		t.Helper()
		if err := env.Client.Create(t.Context(), obj); err != nil {
			t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
		}
		made = append(made, obj)
	}
	store := f.gitStore(uniqueName("git"), secret.Name)
	keep(store)
	destPath := uniqueName("migrated")
	dest := destination(v1alpha1.KindGitStateStore, store.Name, destPath)
	keep(dest)

	// The Promise, as upstream's controller finalized and labelled it, with its status.
	promise, group := workflowPromise(t, renderScript)
	promise.Spec.Dependencies = []v1alpha1.Dependency{{Unstructured: unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "migrated-deps"}}}}}
	promise.Finalizers = upstreamPromiseFinalizers
	promise.Labels = map[string]string{v1alpha1.LabelPromiseVersion: "v0.1.0"}
	keep(promise)
	promise.Status = v1alpha1.PromiseStatus{Status: "Available", Kind: "Thing", APIVersion: group + "/v1", Conditions: []metav1.Condition{{
		Type: v1alpha1.ConditionConfigureWorkflowCompleted, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonPipelinesExecutedSuccessfully,
		Message: "Pipelines completed", LastTransitionTime: metav1.Now(),
	}}}
	if err := env.Client.Status().Update(t.Context(), promise); err != nil {
		t.Fatal(err)
	}

	// Its CRD, which upstream completed from spec.api (a status subresource, a status that
	// keeps unknown fields) and labelled with the Promise's name alone.
	crd, err := promiseapi.CRD(promise)
	if err != nil {
		t.Fatal(err)
	}
	crd.Labels = map[string]string{v1alpha1.LabelPromiseName: promise.Name}
	if err := env.Client.Create(t.Context(), crd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(t.Context(), crd) })
	waitFor(t, "the CRD is established", func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(crd), crd); err != nil {
			return err
		}
		if !crdEstablished(crd) {
			return fmt.Errorf("not established")
		}
		return nil
	})

	// The request, finalized and labelled by upstream, its workflow done as upstream saw it.
	req := thing(group, uniqueName("legacy"))
	req.SetFinalizers(upstreamRequestFinalizers)
	req.SetLabels(map[string]string{v1alpha1.LabelPromiseName: promise.Name})
	waitFor(t, "the request is created", func() error { return env.Client.Create(t.Context(), req) })
	made = append(made, req)
	_ = unstructured.SetNestedField(req.Object, "Resource requested", "status", "message")
	_ = unstructured.SetNestedSlice(req.Object, []any{map[string]any{
		"type": v1alpha1.ConditionConfigureWorkflowCompleted, "status": "True", "reason": v1alpha1.ReasonPipelinesExecutedSuccessfully,
		"message": "Pipelines completed", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
	}}, "status", "conditions")
	if err := env.Client.Status().Update(t.Context(), req); err != nil {
		t.Fatal(err)
	}

	// The Promise's Work of static dependencies (an older content) and the request's Work, under
	// upstream's names and labels (a Work in the request's own namespace has no
	// kratix.io/resource-namespace label upstream), with their placements on the Destination.
	oldDeps := rootGroup(t, map[string]string{"environment": "dev"}, namespaceManifest("older-deps"))
	depsWork := &v1alpha1.Work{
		ObjectMeta: metav1.ObjectMeta{Name: promise.Name + "-static-deps", Namespace: v1alpha1.DefaultPlatformNS,
			Labels:     map[string]string{v1alpha1.LabelPromiseName: promise.Name, v1alpha1.LabelWorkType: v1alpha1.WorkTypeStaticDependency},
			Finalizers: upstreamWorkFinalizers},
		Spec: v1alpha1.WorkSpec{PromiseName: promise.Name, WorkloadGroups: []v1alpha1.WorkloadGroup{oldDeps}},
	}
	rendered := rootGroup(t, map[string]string{"environment": "dev"},
		fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: default\n", req.GetName()))
	requestWork := &v1alpha1.Work{
		ObjectMeta: metav1.ObjectMeta{Name: promise.Name + "-" + req.GetName() + "-render-1a2b3", Namespace: "default",
			Labels: map[string]string{v1alpha1.LabelPromiseName: promise.Name, v1alpha1.LabelResourceName: req.GetName(),
				v1alpha1.LabelPipelineName: "render", v1alpha1.LabelWorkType: v1alpha1.WorkTypeResource},
			Finalizers: upstreamWorkFinalizers},
		Spec: v1alpha1.WorkSpec{PromiseName: promise.Name, ResourceName: req.GetName(), ResourceNamespace: "default",
			PipelineName: "render", WorkloadGroups: []v1alpha1.WorkloadGroup{rendered}},
	}
	var placements []*v1alpha1.WorkPlacement
	for _, w := range []*v1alpha1.Work{depsWork, requestWork} {
		keep(w)
		g := w.Spec.WorkloadGroups[0]
		wp := &v1alpha1.WorkPlacement{
			ObjectMeta: metav1.ObjectMeta{Name: scheduling.PlacementName(w.Name, dest.Name, g.ID), Namespace: w.Namespace,
				Labels:     map[string]string{v1alpha1.LabelWork: w.Name, v1alpha1.LabelPromiseName: promise.Name},
				Finalizers: upstreamWorkPlacementFinalizers,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Work", Name: w.Name, UID: w.UID,
					Controller: new(true), BlockOwnerDeletion: new(true)}}},
			Spec: v1alpha1.WorkPlacementSpec{TargetDestinationName: dest.Name, Workloads: g.Workloads, PromiseName: promise.Name,
				ResourceName: w.Spec.ResourceName, ResourceNamespace: w.Spec.ResourceNamespace, ID: g.ID},
		}
		if w.Spec.ResourceName != "" {
			wp.Spec.PipelineName = "render"
		} else {
			wp.Labels[v1alpha1.LabelMisplaced] = "true" // upstream marked it misplaced once
		}
		keep(wp)
		placements = append(placements, wp)
	}

	// The engine starts on them.
	startPlatform(t)
	t.Cleanup(func() {
		for i := len(made) - 1; i >= 0; i-- {
			deleteAndWait(t, made[i])
		}
	})
	waitForCondition(t, dest, metav1.ConditionTrue, v1alpha1.ReasonTestDocumentsWritten)
	waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	waitForRequest(t, req, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
	waitForPromise(t, promise, v1alpha1.ConditionReconciled, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
	waitFor(t, "the engine's finalizers replace upstream's", func() error {
		objs := []client.Object{promise, req, depsWork, requestWork, placements[0], placements[1]}
		for _, o := range objs {
			if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(o), o); err != nil {
				return err
			}
			if err := noRetiredFinalizer(o); err != nil {
				return err
			}
		}
		for o, want := range map[client.Object]string{promise: v1alpha1.FinalizerWorkCleanup, req: v1alpha1.FinalizerWorkCleanup,
			depsWork: v1alpha1.FinalizerWorkCleanup, placements[0]: v1alpha1.FinalizerRepoCleanup, placements[1]: v1alpha1.FinalizerRepoCleanup} {
			if !slices.Contains(o.GetFinalizers(), want) {
				return fmt.Errorf("%s lacks %s: %v", o.GetName(), want, o.GetFinalizers())
			}
		}
		if _, ok := placements[0].Labels[v1alpha1.LabelMisplaced]; ok {
			return fmt.Errorf("placement %s is still labelled misplaced on a Destination it matches: %v", placements[0].Name, placements[0].Labels)
		}
		return nil
	})
	for _, wp := range placements {
		waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	}
	// The request's workflow ran into upstream's Work: there is one Work of the request.
	works, err := ResourceWorks(t.Context(), env.Client, promise.Name, req)
	if err != nil {
		t.Fatal(err)
	}
	var all v1alpha1.WorkList
	if err := env.Client.List(t.Context(), &all, client.InNamespace("default"), client.MatchingLabels{v1alpha1.LabelResourceName: req.GetName()}); err != nil {
		t.Fatal(err)
	}
	if len(all.Items) != 1 || all.Items[0].Name != requestWork.Name || len(works) != 1 {
		names := make([]string, 0, len(all.Items))
		for _, w := range all.Items {
			names = append(names, w.Name)
		}
		t.Errorf("Works of the request %v (the engine finds %d), want upstream's %s alone", names, len(works), requestWork.Name)
	}
	depsDir, resDir := destPath+"/dependencies/"+promise.Name, destPath+"/resources/default/"+promise.Name+"/"+req.GetName()
	waitFor(t, "the Promise's current dependencies and the request's output in Git", func() error {
		deps, res := f.filesUnder(t, depsDir), f.filesUnder(t, resDir)
		if len(deps) == 0 || len(res) == 0 {
			return fmt.Errorf("dependencies %v, resources %v", deps, res)
		}
		if got := f.show(t, deps[0]); !strings.Contains(got, "migrated-deps") {
			return fmt.Errorf("%s = %q, want the Promise's current dependencies", deps[0], got)
		}
		return nil
	})

	// Deleting the request completes and removes its files; then the Promise.
	deleteAndWait(t, req)
	waitFor(t, "the request's files are gone", func() error {
		if got := f.filesUnder(t, resDir); len(got) != 0 {
			return fmt.Errorf("left: %v", got)
		}
		return nil
	})
	deleteAndWait(t, promise)
	for _, o := range []client.Object{depsWork, requestWork, placements[0], placements[1], crd} {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(o), o); !apierrors.IsNotFound(err) {
			t.Errorf("%T %s is still there (%v), finalizers %v", o, o.GetName(), err, o.GetFinalizers())
		}
	}
	if got := f.filesUnder(t, depsDir); len(got) != 0 {
		t.Errorf("the Promise's files are left: %v", got)
	}
}
