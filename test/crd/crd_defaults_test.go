package crd

import (
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/testenv"
)

// createAndRead creates the object and reads it back as typed out: what the API server stored,
// defaults included.
func createAndRead(t *testing.T, manifest string, out client.Object) {
	t.Helper()
	ctx := testenv.Context(t)
	in := object(t, manifest)
	if err := env.Client.Create(ctx, in); err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, in) }) // best effort; the control plane is discarded after the run
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(in), out); err != nil {
		t.Fatalf("read back: %v", err)
	}
}

func TestDestinationDefaults(t *testing.T) {
	got := &platformv1alpha1.Destination{}
	createAndRead(t, `
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: defaults}
spec:
  path: dev-1
  stateStoreRef: {kind: BucketStateStore, name: default}`, got)

	if got.Spec.Filepath.Mode != platformv1alpha1.FilepathModeNestedByMetadata {
		t.Errorf("filepath.mode = %q, want nestedByMetadata", got.Spec.Filepath.Mode)
	}
	if got.Spec.Cleanup != platformv1alpha1.DestinationCleanupNone {
		t.Errorf("cleanup = %q, want none", got.Spec.Cleanup)
	}
	if got.Spec.InitWorkloads.Enabled == nil || !*got.Spec.InitWorkloads.Enabled {
		t.Errorf("initWorkloads.enabled = %v, want true", got.Spec.InitWorkloads.Enabled)
	}
	if got.Spec.StrictMatchLabels {
		t.Error("strictMatchLabels defaulted to true")
	}
}

func TestDestinationKeepsExplicitValues(t *testing.T) {
	got := &platformv1alpha1.Destination{}
	createAndRead(t, `
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: explicit, labels: {environment: prod}}
spec:
  path: prod-1
  strictMatchLabels: true
  stateStoreRef: {kind: GitStateStore, name: default}
  filepath: {mode: aggregatedYAML, filename: all.yaml}
  cleanup: all
  initWorkloads: {enabled: false}`, got)

	want := platformv1alpha1.DestinationSpec{
		Path:              "prod-1",
		StrictMatchLabels: true,
		StateStoreRef:     platformv1alpha1.StateStoreReference{Kind: "GitStateStore", Name: "default"},
		Filepath:          platformv1alpha1.Filepath{Mode: platformv1alpha1.FilepathModeAggregatedYAML, Filename: "all.yaml"},
		Cleanup:           platformv1alpha1.DestinationCleanupAll,
		InitWorkloads:     platformv1alpha1.InitWorkloads{Enabled: new(false)},
	}
	if !equality.Semantic.DeepEqual(got.Spec, want) {
		t.Errorf("stored spec differs from what was applied:\n got %+v\nwant %+v", got.Spec, want)
	}
}

func TestGitStateStoreDefaults(t *testing.T) {
	got := &platformv1alpha1.GitStateStore{}
	createAndRead(t, `
apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: defaults}
spec:
  url: https://git.example.com/state.git
  secretRef: {name: git-creds}`, got)

	checks := map[string][2]string{
		"branch":              {got.Spec.Branch, "main"},
		"authMethod":          {got.Spec.AuthMethod, platformv1alpha1.AuthMethodBasicAuth},
		"gitAuthor.name":      {got.Spec.GitAuthor.Name, "kratix"},
		"secretRef.namespace": {got.Spec.SecretRef.Namespace, "default"},
	}
	for field, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", field, c[0], c[1])
		}
	}
	if got.Spec.Insecure {
		t.Error("insecure defaulted to true: TLS verification must be on unless asked for")
	}
}

func TestBucketStateStoreDefaults(t *testing.T) {
	got := &platformv1alpha1.BucketStateStore{}
	createAndRead(t, `
apiVersion: platform.kratix.io/v1alpha1
kind: BucketStateStore
metadata: {name: defaults}
spec:
  endpoint: s3.example.com
  bucketName: kratix
  secretRef: {name: s3-creds, namespace: kratix-platform-system}`, got)

	if got.Spec.AuthMethod != platformv1alpha1.AuthMethodAccessKey {
		t.Errorf("authMethod = %q, want accessKey", got.Spec.AuthMethod)
	}
	if got.Spec.SecretRef.Namespace != "kratix-platform-system" {
		t.Errorf("secretRef.namespace = %q, want the one given", got.Spec.SecretRef.Namespace)
	}
	if got.Spec.Insecure {
		t.Error("insecure defaulted to true")
	}
}

// TestPromiseDefaultsAndPreservedFields checks that pipelines without apiVersion/kind get them,
// and that the embedded CRD and the dependencies are stored whole, not pruned.
func TestPromiseDefaultsAndPreservedFields(t *testing.T) {
	const manifest = `
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata: {name: defaults}
spec:
  api:
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: things.example.io}
    spec:
      group: example.io
      names: {kind: Thing, plural: things}
      scope: Namespaced
      versions:
        - name: v1
          served: true
          storage: true
          schema:
            openAPIV3Schema:
              type: object
              x-kubernetes-preserve-unknown-fields: true
  dependencies:
    - apiVersion: v1
      kind: Namespace
      metadata: {name: foo, labels: {team: a}}
    - apiVersion: example.io/v1
      kind: Anything
      metadata: {name: bar}
      spec: {deeply: {nested: [1, "two", {three: 3}]}}
  workflows:
    resource:
      configure:
        - metadata: {name: render}
          spec:
            containers: [{name: render, image: busybox, command: [sh, -c], args: ["echo hi"]}]
            volumes:
              - name: scratch
                emptyDir: {sizeLimit: 1Gi}`
	got := &platformv1alpha1.Promise{}
	createAndRead(t, manifest, got)
	applied := object(t, manifest)

	pipeline := got.Spec.Workflows.Resource.Configure[0]
	if pipeline.APIVersion != "platform.kratix.io/v1alpha1" || pipeline.Kind != "Pipeline" {
		t.Errorf("pipeline apiVersion/kind = %q/%q, want the defaults platform.kratix.io/v1alpha1/Pipeline", pipeline.APIVersion, pipeline.Kind)
	}
	if v := pipeline.Spec.Volumes; len(v) != 1 || v[0].Name != "scratch" || v[0].EmptyDir == nil || v[0].EmptyDir.SizeLimit.String() != "1Gi" {
		t.Errorf("volumes were not kept as written: %+v", v)
	}

	var storedAPI map[string]any
	if err := json.Unmarshal(got.Spec.API.Raw, &storedAPI); err != nil {
		t.Fatal(err)
	}
	appliedAPI, _, _ := unstructured.NestedMap(applied.Object, "spec", "api")
	if a, b := canonicalJSON(t, storedAPI), canonicalJSON(t, appliedAPI); a != b {
		t.Errorf("spec.api was changed when stored:\n got %s\nwant %s", a, b)
	}

	appliedDeps, _, _ := unstructured.NestedSlice(applied.Object, "spec", "dependencies")
	if len(got.Spec.Dependencies) != len(appliedDeps) {
		t.Fatalf("%d dependencies stored, %d applied", len(got.Spec.Dependencies), len(appliedDeps))
	}
	for i, dep := range got.Spec.Dependencies {
		if a, b := canonicalJSON(t, dep.Object), canonicalJSON(t, appliedDeps[i]); a != b {
			t.Errorf("dependency %d was changed when stored:\n got %s\nwant %s", i, a, b)
		}
	}
}

// TestWorkAndWorkPlacementKeepWorkloads checks that Works and WorkPlacements store their
// workloads and selectors as written (there is nothing to default).
func TestWorkAndWorkPlacementKeepWorkloads(t *testing.T) {
	work := &platformv1alpha1.Work{}
	createAndRead(t, `
apiVersion: platform.kratix.io/v1alpha1
kind: Work
metadata: {name: keep, namespace: default}
spec:
  promiseName: appconfig
  resourceName: hello
  resourceNamespace: default
  pipelineName: render
  workloadGroups:
    - id: 5058f1af8388633f609cadb75a75dc9d
      directory: .
      workloads: [{filepath: configmap.yaml, content: H4sIAAAAAAAA/0pMSgYAAAD//w==}]
      destinationSelectors:
        - {matchLabels: {environment: dev}, source: promise}`, work)
	wantGroup := platformv1alpha1.WorkloadGroup{
		ID:                   "5058f1af8388633f609cadb75a75dc9d",
		Directory:            platformv1alpha1.RootDirectory,
		Workloads:            []platformv1alpha1.Workload{{Filepath: "configmap.yaml", Content: "H4sIAAAAAAAA/0pMSgYAAAD//w=="}},
		DestinationSelectors: []platformv1alpha1.WorkloadGroupScheduling{{MatchLabels: map[string]string{"environment": "dev"}, Source: platformv1alpha1.SelectorSourcePromise}},
	}
	if len(work.Spec.WorkloadGroups) != 1 || !equality.Semantic.DeepEqual(work.Spec.WorkloadGroups[0], wantGroup) {
		t.Errorf("workload groups stored as %+v, want %+v", work.Spec.WorkloadGroups, wantGroup)
	}
	if work.IsPromiseLevel() {
		t.Error("a Work with a resourceName reports itself Promise-level")
	}

	wp := &platformv1alpha1.WorkPlacement{}
	createAndRead(t, `
apiVersion: platform.kratix.io/v1alpha1
kind: WorkPlacement
metadata: {name: keep.dev-1, namespace: default, labels: {kratix.io/misscheduled: "true"}}
spec:
  targetDestinationName: dev-1
  promiseName: appconfig
  id: 5058f1af8388633f609cadb75a75dc9d
  workloads: [{filepath: configmap.yaml, content: H4sIAAAAAAAA/0pMSgYAAAD//w==}]`, wp)
	if wp.Spec.TargetDestinationName != "dev-1" || len(wp.Spec.Workloads) != 1 {
		t.Errorf("stored spec %+v", wp.Spec)
	}
	if !wp.IsMisscheduled() {
		t.Error("IsMisscheduled() = false for a placement labelled kratix.io/misscheduled=true")
	}
}

// canonicalJSON encodes v with sorted keys, so that documents decoded by different parsers (whose
// number types differ) compare equal when their content is.
func canonicalJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
