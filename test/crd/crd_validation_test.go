package crd

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/internal/testenv"
)

// validDestination is a Destination that the API server accepts; %s is its name.
const validDestination = `
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata:
  name: %s
spec:
  path: dev-1
  stateStoreRef:
    kind: GitStateStore
    name: default
`

// TestInvalidObjectsAreRejected creates objects that break one rule each and expects the API
// server to refuse them with a message that names the field and the problem.
func TestInvalidObjectsAreRejected(t *testing.T) {
	cases := []struct {
		name     string
		manifest string
		// want are substrings of the API server's message, all of them.
		want []string
	}{
		{
			name: "Destination without stateStoreRef",
			manifest: `
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: no-store}
spec:
  path: dev-1`,
			want: []string{"spec.stateStoreRef", "Required value"},
		},
		{
			name: "Destination without path",
			manifest: `
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: no-path}
spec:
  stateStoreRef: {kind: GitStateStore, name: default}`,
			want: []string{"spec.path", "Required value"},
		},
		{
			name: "Destination with an absolute path",
			manifest: `
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: abs-path}
spec:
  path: /etc
  stateStoreRef: {kind: GitStateStore, name: default}`,
			want: []string{"spec.path", "path must be relative (or '/' or '.' for the store's root) and must not contain '..'"},
		},
		{
			name: "Destination with a path that escapes",
			manifest: `
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: escaping-path}
spec:
  path: clusters/../../other
  stateStoreRef: {kind: GitStateStore, name: default}`,
			want: []string{"spec.path", "must not contain '..'"},
		},
		{
			name: "Destination with an unknown filepath.mode",
			manifest: `
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: bad-mode}
spec:
  path: dev-1
  stateStoreRef: {kind: GitStateStore, name: default}
  filepath: {mode: flat}`,
			want: []string{"spec.filepath.mode", `Unsupported value: "flat"`, `"nestedByMetadata"`},
		},
		{
			name: "Destination with an unknown state store kind",
			manifest: `
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: bad-store-kind}
spec:
  path: dev-1
  stateStoreRef: {kind: ConfigMap, name: default}`,
			want: []string{"spec.stateStoreRef.kind", `Unsupported value: "ConfigMap"`},
		},
		{
			name: "Destination with an unknown cleanup policy",
			manifest: `
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: bad-cleanup}
spec:
  path: dev-1
  stateStoreRef: {kind: GitStateStore, name: default}
  cleanup: some`,
			want: []string{"spec.cleanup", `Unsupported value: "some"`},
		},
		{
			name: "GitStateStore without url",
			manifest: `
apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: no-url}
spec:
  secretRef: {name: git-creds}`,
			want: []string{"spec.url", "Required value"},
		},
		{
			name: "GitStateStore with an unknown authMethod",
			manifest: `
apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: bad-auth}
spec:
  url: https://git.example.com/state.git
  authMethod: token
  secretRef: {name: git-creds}`,
			want: []string{"spec.authMethod", `Unsupported value: "token"`, `"basicAuth"`, `"ssh"`},
		},
		{
			name: "GitStateStore with ssh and no secret",
			manifest: `
apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: ssh-no-secret}
spec:
  url: ssh://git@git.example.com/state.git
  authMethod: ssh`,
			want: []string{"authMethod ssh needs a secretRef"},
		},
		{
			name: "BucketStateStore without bucketName",
			manifest: `
apiVersion: platform.kratix.io/v1alpha1
kind: BucketStateStore
metadata: {name: no-bucket}
spec:
  endpoint: s3.example.com
  secretRef: {name: s3-creds}`,
			want: []string{"spec.bucketName", "Required value"},
		},
		{
			name: "BucketStateStore with a scheme in the endpoint",
			manifest: `
apiVersion: platform.kratix.io/v1alpha1
kind: BucketStateStore
metadata: {name: scheme-endpoint}
spec:
  endpoint: https://s3.example.com
  bucketName: kratix
  secretRef: {name: s3-creds}`,
			want: []string{"spec.endpoint", "without a scheme"},
		},
		{
			name: "BucketStateStore with an unknown authMethod",
			manifest: `
apiVersion: platform.kratix.io/v1alpha1
kind: BucketStateStore
metadata: {name: bad-s3-auth}
spec:
  endpoint: s3.example.com
  bucketName: kratix
  authMethod: password`,
			want: []string{"spec.authMethod", `Unsupported value: "password"`},
		},
		{
			name: "Promise pipeline with an unknown field",
			manifest: promiseWithPipeline(`
          - apiVersion: platform.kratix.io/v1alpha1
            kind: Pipeline
            metadata: {name: render}
            spec:
              containers:
                - {name: render, image: busybox}
              retries: 3`),
			want: []string{`unknown field "spec.workflows.resource.configure[0].spec.retries"`},
		},
		{
			name: "Promise pipeline without containers",
			manifest: promiseWithPipeline(`
          - apiVersion: platform.kratix.io/v1alpha1
            kind: Pipeline
            metadata: {name: render}
            spec: {}`),
			want: []string{"spec.workflows.resource.configure[0].spec.containers", "Required value"},
		},
		{
			name: "Promise whose resource workflows run in a namespace of Kubernetes' own",
			manifest: `
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata: {name: kube-system-pipelines}
spec:
  workflows:
    config: {pipelineNamespace: kube-system}`,
			want: []string{"spec.workflows.config.pipelineNamespace", "Kubernetes' own namespaces"},
		},
		{
			name: "Promise pipeline with an empty container list",
			manifest: promiseWithPipeline(`
          - apiVersion: platform.kratix.io/v1alpha1
            kind: Pipeline
            metadata: {name: render}
            spec: {containers: []}`),
			want: []string{"spec.workflows.resource.configure[0].spec.containers", "should have at least 1 items"},
		},
		{
			name: "Promise pipeline container without image",
			manifest: promiseWithPipeline(`
          - apiVersion: platform.kratix.io/v1alpha1
            kind: Pipeline
            metadata: {name: render}
            spec:
              containers:
                - {name: render}`),
			want: []string{"spec.workflows.resource.configure[0].spec.containers[0].image", "Required value"},
		},
		{
			name: "Promise pipeline with two containers of one name",
			manifest: promiseWithPipeline(`
          - apiVersion: platform.kratix.io/v1alpha1
            kind: Pipeline
            metadata: {name: render}
            spec:
              containers:
                - {name: step, image: busybox}
                - {name: step, image: alpine}`),
			want: []string{"spec.workflows.resource.configure[0].spec.containers[1]", "Duplicate value"},
		},
		{
			name: "Promise with two pipelines of one name",
			manifest: promiseWithPipeline(`
          - metadata: {name: render}
            spec:
              containers: [{name: a, image: busybox}]
          - metadata: {name: render}
            spec:
              containers: [{name: b, image: busybox}]`),
			want: []string{"spec.workflows.resource.configure", "pipeline names must be unique within a workflow"},
		},
		{
			name: "Promise pipeline with a name that is not a DNS label",
			manifest: promiseWithPipeline(`
          - metadata: {name: Render_Step}
            spec:
              containers: [{name: a, image: busybox}]`),
			want: []string{"spec.workflows.resource.configure[0].metadata.name", "should match"},
		},
		{
			name: "Promise pipeline of another kind",
			manifest: promiseWithPipeline(`
          - apiVersion: tekton.dev/v1
            kind: Pipeline
            metadata: {name: render}
            spec:
              containers: [{name: a, image: busybox}]`),
			want: []string{"spec.workflows.resource.configure[0].apiVersion", `Unsupported value: "tekton.dev/v1"`},
		},
		{
			name: "Promise whose api is not a CRD",
			manifest: `
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata: {name: api-not-crd}
spec:
  api:
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: oops}`,
			want: []string{"spec.api", "must be an apiextensions.k8s.io/v1 CustomResourceDefinition"},
		},
		{
			name: "Promise dependency without kind",
			manifest: `
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata: {name: dep-no-kind}
spec:
  dependencies:
    - apiVersion: v1
      metadata: {name: foo}`,
			want: []string{"spec.dependencies[0].kind", "Required value"},
		},
		{
			name: "WorkPlacement without targetDestinationName",
			manifest: `
apiVersion: platform.kratix.io/v1alpha1
kind: WorkPlacement
metadata: {name: wp, namespace: default}
spec:
  promiseName: p
  id: 5058f1af8388633f609cadb75a75dc9d`,
			want: []string{"spec.targetDestinationName", "Required value"},
		},
		{
			name: "Work with a workload group id that is not an md5",
			manifest: `
apiVersion: platform.kratix.io/v1alpha1
kind: Work
metadata: {name: work, namespace: default}
spec:
  promiseName: p
  workloadGroups:
    - id: root
      directory: .`,
			want: []string{"spec.workloadGroups[0].id", "should match"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testenv.Context(t)
			err := env.Client.Create(ctx, object(t, tc.manifest), client.DryRunAll)
			if err == nil {
				t.Fatalf("the API server accepted it; want a refusal saying %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the refusal does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

// promiseWithPipeline is a Promise whose resource configure workflow is the given YAML list,
// indented for its place.
func promiseWithPipeline(pipelines string) string {
	return `
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata: {name: pipeline-test}
spec:
  workflows:
    resource:
      configure:` + pipelines
}

// TestFilepathModeIsImmutable changes the filepath mode of an existing Destination: files already
// written in one layout would be orphaned by another, so the API server refuses.
func TestFilepathModeIsImmutable(t *testing.T) {
	ctx := testenv.Context(t)
	dest := object(t, strings.Replace(validDestination, "%s", "immutable-mode", 1))
	if err := env.Client.Create(ctx, dest); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, dest) }) // best effort; the control plane is discarded after the run

	for _, mode := range []string{"none", "aggregatedYAML"} {
		if err := unstructured.SetNestedField(dest.Object, mode, "spec", "filepath", "mode"); err != nil {
			t.Fatal(err)
		}
		err := env.Client.Update(ctx, dest)
		if err == nil {
			t.Fatalf("changing filepath.mode to %s was accepted", mode)
		}
		if !strings.Contains(err.Error(), "filepath.mode is immutable") {
			t.Errorf("the refusal does not say that filepath.mode is immutable: %v", err)
		}
	}
}
