package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
	"kratix.dev/kratix/pipeline/adapter"
)

// TestPipelineAdapterSteps runs the three steps of a resource workflow's Job against the API
// server, as the Job's containers would: the reader writes the request, the work-writer turns
// output into one Work (replaced, not duplicated, on the next run), the status-writer merges
// status.yaml and marks the workflow completed after the last pipeline.
func TestPipelineAdapterSteps(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := env.InstallResourceCRD(ctx, "example.platform.io", "AppConfig", "appconfigs"); err != nil {
		t.Fatal(err)
	}
	request := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.platform.io/v1", "kind": "AppConfig",
		"metadata": map[string]any{"name": "hello", "namespace": "default"},
		"spec":     map[string]any{"greeting": "hi"},
	}}
	if err := env.Client.Create(ctx, request); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		pipeline.EnvWorkflowAction: "configure", pipeline.EnvWorkflowType: "resource", pipeline.EnvPromiseName: "appconfig",
		pipeline.EnvPipelineName: "render", pipeline.EnvObjectKind: "AppConfig", pipeline.EnvObjectGroup: "example.platform.io",
		pipeline.EnvObjectVersion: "v1", pipeline.EnvObjectName: "hello", pipeline.EnvObjectNamespace: "default",
		pipeline.EnvCRDPlural: "appconfigs", pipeline.EnvClusterScoped: "false", pipeline.EnvPipelineNamespace: "default",
		pipeline.EnvPromiseDestinationSelectors: `[{"matchLabels":{"environment":"dev"}}]`, pipeline.EnvLastPipeline: "true",
	} {
		t.Setenv(k, v)
	}
	dirs := map[string]string{}
	for _, d := range []string{"input", "output", "metadata"} {
		dirs[d] = filepath.Join(t.TempDir(), d)
		if err := os.Mkdir(dirs[d], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	step := func(name string) (int, string) {
		var stderr bytes.Buffer
		code := run(ctx, []string{"pipeline-adapter", name, "--kubeconfig", env.Kubeconfig(),
			"--input-dir", dirs["input"], "--output-dir", dirs["output"], "--metadata-dir", dirs["metadata"]}, &stderr)
		return code, stderr.String()
	}
	mustStep := func(name string) {
		t.Helper()
		if code, out := step(name); code != 0 {
			t.Fatalf("%s exited %d:\n%s", name, code, out)
		}
	}

	mustStep("reader")
	data, err := os.ReadFile(filepath.Join(dirs["input"], adapter.ObjectFile))
	if err != nil {
		t.Fatal(err)
	}
	var read map[string]any
	if err := yaml.Unmarshal(data, &read); err != nil {
		t.Fatal(err)
	}
	if greeting, _, _ := unstructured.NestedString(read, "spec", "greeting"); greeting != "hi" {
		t.Errorf("object.yaml holds %s", data)
	}

	writeFile := func(dir, name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dirs[dir], name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, version := range []string{"1", "2"} {
		writeFile("output", "configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\ndata:\n  renderVersion: \""+version+"\"\n")
		mustStep("work-writer")
	}
	var works v1alpha1.WorkList
	if err := env.Client.List(ctx, &works, client.InNamespace("default"), client.MatchingLabels{v1alpha1.LabelPromiseName: "appconfig", v1alpha1.LabelResourceName: "hello"}); err != nil {
		t.Fatal(err)
	}
	if len(works.Items) != 1 {
		t.Fatalf("%d Works after two runs, want one replaced in place", len(works.Items))
	}
	work := works.Items[0]
	if work.Spec.ResourceName != "hello" || work.Spec.PipelineName != "render" || len(work.Spec.WorkloadGroups) != 1 {
		t.Fatalf("Work spec %+v", work.Spec)
	}
	group := work.Spec.WorkloadGroups[0]
	content, err := v1alpha1.DecodeContent(group.Workloads[0].Content)
	if err != nil || !strings.Contains(string(content), `renderVersion: "2"`) || group.Workloads[0].Filepath != "configmap.yaml" {
		t.Errorf("workload %s = %q (%v), want the second run's ConfigMap", group.Workloads[0].Filepath, content, err)
	}
	if len(group.DestinationSelectors) != 1 || group.DestinationSelectors[0].MatchLabels["environment"] != "dev" {
		t.Errorf("selectors %+v, want the Promise's", group.DestinationSelectors)
	}

	writeFile("metadata", "status.yaml", "message: rendered by version 2\n")
	mustStep("status-writer")
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(request), request); err != nil {
		t.Fatal(err)
	}
	if msg, _, _ := unstructured.NestedString(request.Object, "status", "message"); msg != "rendered by version 2" {
		t.Errorf("status.message = %q", msg)
	}
	conditions, _, _ := unstructured.NestedSlice(request.Object, "status", "conditions")
	completed := false
	for _, c := range conditions {
		c := c.(map[string]any)
		if c["type"] == v1alpha1.ConditionConfigureWorkflowCompleted && c["status"] == "True" {
			completed = true
		}
	}
	if !completed {
		t.Errorf("ConfigureWorkflowCompleted is not True after the last pipeline: %v", conditions)
	}

	// Bad output fails the step, naming the file, and leaves the Work as it was.
	writeFile("output", "broken.yaml", "kind: [unclosed\n")
	code, out := step("work-writer")
	if code == 0 || !strings.Contains(out, "broken.yaml") {
		t.Errorf("work-writer with invalid YAML exited %d:\n%s", code, out)
	}
	writeFile("metadata", "status.yaml", "kratix: {taken: true}\n")
	if code, out := step("status-writer"); code == 0 || !strings.Contains(out, "reserved") {
		t.Errorf("status-writer with the reserved key exited %d:\n%s", code, out)
	}
}

func TestPipelineAdapterNeedsItsEnvironment(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(t.Context(), []string{"pipeline-adapter", "reader", "--kubeconfig", env.Kubeconfig()}, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "KRATIX_WORKFLOW_ACTION is not set") {
		t.Errorf("exit %d:\n%s", code, stderr.String())
	}
	stderr.Reset()
	if code := run(t.Context(), []string{"pipeline-adapter", "frobnicate"}, &stderr); code != 2 {
		t.Errorf("an unknown step exited %d:\n%s", code, stderr.String())
	}
}
