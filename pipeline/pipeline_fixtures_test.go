package pipeline

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"kratix.dev/kratix/api/v1alpha1"
)

// Test fixtures shared by the tests of this package.

// promiseYAML is a Promise with an API, two resource configure pipelines, two delete pipelines
// and one promise configure pipeline that uses every field of a Pipeline.
const promiseYAML = `
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata:
  name: redis
  uid: 11111111-2222-3333-4444-555555555555
spec:
  destinationSelectors:
    - matchLabels:
        environment: dev
  api:
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: redises.marketplace.kratix.io
    spec:
      group: marketplace.kratix.io
      scope: Namespaced
      names:
        kind: Redis
        plural: redises
        singular: redis
      versions:
        - name: v1alpha1
          served: true
          storage: true
          schema:
            openAPIV3Schema:
              type: object
              x-kubernetes-preserve-unknown-fields: true
  workflows:
    promise:
      configure:
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata:
            name: promise-configure
            labels:
              team: platform
              kratix.io/pipeline-name: user-tries-to-override
            annotations:
              note: from the pipeline
          spec:
            containers:
              - name: render
                image: ghcr.io/example/render:v1
                command: ["render"]
                args: ["--all"]
                env:
                  - name: MODE
                    value: promise
                envFrom:
                  - configMapRef:
                      name: render-config
                volumeMounts:
                  - name: cache
                    mountPath: /cache
                imagePullPolicy: Always
                securityContext:
                  runAsNonRoot: true
                resources:
                  limits:
                    memory: 128Mi
            volumes:
              - name: cache
                emptyDir: {}
            imagePullSecrets:
              - name: registry
            jobOptions:
              backoffLimit: 2
            nodeSelector:
              pool: pipelines
            tolerations:
              - key: dedicated
                operator: Equal
                value: pipelines
                effect: NoSchedule
    resource:
      configure:
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata:
            name: instance-configure
          spec:
            containers:
              - name: generate
                image: ghcr.io/example/generate:v1
                env:
                  - name: SIZE
                    value: small
              - name: lint
                image: ghcr.io/example/lint:v1
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata:
            name: instance-notify
          spec:
            containers:
              - name: notify
                image: ghcr.io/example/notify:v1
      delete:
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata:
            name: instance-delete
          spec:
            containers:
              - name: cleanup
                image: ghcr.io/example/cleanup:v1
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata:
            name: never-runs
          spec:
            containers:
              - name: ignored
                image: ghcr.io/example/ignored:v1
`

// testPromise returns a fresh copy of the fixture Promise.
func testPromise(t *testing.T) *v1alpha1.Promise {
	t.Helper()
	var p v1alpha1.Promise
	if err := yaml.UnmarshalStrict([]byte(promiseYAML), &p); err != nil {
		t.Fatalf("fixture Promise: %v", err)
	}
	return &p
}

// testRequest is a Redis resource request.
func testRequest(name, namespace string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "marketplace.kratix.io/v1alpha1",
		"kind":       "Redis",
		"metadata": map[string]any{
			"name":      name,
			"namespace": namespace,
			"uid":       "99999999-8888-7777-6666-555555555555",
		},
		"spec": map[string]any{"size": "small", "replicas": int64(3)},
	}}
	return u
}

// promiseWorkflow is the Promise's promise workflow for action.
func promiseWorkflow(p *v1alpha1.Promise, action string) Workflow {
	return Workflow{Type: v1alpha1.WorkflowTypePromise, Action: action, Promise: p}
}

// resourceWorkflow is the Promise's resource workflow for action on obj.
func resourceWorkflow(p *v1alpha1.Promise, action string, obj *unstructured.Unstructured) Workflow {
	return Workflow{Type: v1alpha1.WorkflowTypeResource, Action: action, Promise: p, Object: obj}
}

// mustJob builds a Job or fails the test.
func mustJob(t *testing.T, w Workflow, index, run int, opts Options) *batchv1.Job {
	t.Helper()
	job, err := BuildJob(w, index, run, opts)
	if err != nil {
		t.Fatalf("BuildJob: %v", err)
	}
	return job
}

// mustAccess builds the Access of a pipeline or fails the test.
func mustAccess(t *testing.T, w Workflow, index int, opts Options) *Access {
	t.Helper()
	access, err := BuildAccess(w, index, opts)
	if err != nil {
		t.Fatalf("BuildAccess: %v", err)
	}
	return access
}
