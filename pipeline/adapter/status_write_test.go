package adapter

import (
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	"kratix.dev/kratix/api/v1alpha1"
)

// The status-writer writes over the reader's copy of the object (from the engine's own
// directory) in one request when the object has not changed since; when it has, the API server
// refuses the copy (its resourceVersion) and the object is read again, so nothing written in
// between is lost. Without a copy (a Job built without the engine's volume) it reads first.
func TestWriteStatusOverTheReadersCopy(t *testing.T) {
	gvr := schema.GroupVersionResource{Group: "example.kratix.io", Version: "v1", Resource: "apps"}
	env := Env{Action: v1alpha1.WorkflowActionConfigure, Type: v1alpha1.WorkflowTypeResource, Promise: "app", Pipeline: "render",
		Group: gvr.Group, Version: gvr.Version, Kind: "App", Plural: gvr.Resource, Name: "hello", Namespace: "team-a", Run: 2}
	request := func(rv, message string) *unstructured.Unstructured {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "example.kratix.io/v1", "kind": "App",
			"metadata": map[string]any{"name": "hello", "namespace": "team-a", "resourceVersion": rv},
			"spec":     map[string]any{"size": "small"},
			"status":   map[string]any{"message": message},
		}}
		return obj
	}
	for _, tc := range []struct {
		name string
		// stored is what the API server holds when the status-writer runs; the reader read "1".
		stored  string
		noCopy  bool
		actions []string
		// kept is a field the status must still hold: written after the reader's read.
		kept string
	}{
		{name: "unchanged since the reader: one request", stored: "1", actions: []string{"update status"}},
		{name: "changed since: refused, read, written", stored: "2", actions: []string{"update status", "get", "update status"}, kept: "engine"},
		{name: "no copy: read, written", stored: "1", noCopy: true, actions: []string{"get", "update status"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stored := request(tc.stored, "from the reader's time")
			if tc.stored != "1" {
				_ = unstructured.SetNestedField(stored.Object, "written meanwhile", "status", "engine")
			}
			dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{gvr: "AppList"}, stored)
			// The API server's optimistic lock, which the fake's tracker does not keep.
			dyn.PrependReactor("update", gvr.Resource, func(a clienttesting.Action) (bool, runtime.Object, error) {
				obj := a.(clienttesting.UpdateAction).GetObject().(*unstructured.Unstructured)
				if obj.GetResourceVersion() != tc.stored {
					return true, nil, apierrors.NewConflict(gvr.GroupResource(), obj.GetName(), errors.New("the object has been modified"))
				}
				return false, nil, nil
			})
			engineDir, metadata := t.TempDir(), t.TempDir()
			if !tc.noCopy {
				copied, err := request("1", "from the reader's time").MarshalJSON()
				if err != nil {
					t.Fatal(err)
				}
				if err := writeNew(engineDir, EngineObjectFile, copied); err != nil {
					t.Fatal(err)
				}
			}
			writeTree(t, metadata, map[string]string{"status.yaml": "message: rendered\n"})
			dyn.ClearActions()
			if err := WriteStatus(t.Context(), dyn, env, metadata, engineDir, time.Now()); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range dyn.Actions() {
				verb := a.GetVerb()
				if a.GetSubresource() != "" {
					verb += " " + a.GetSubresource()
				}
				got = append(got, verb)
			}
			if strings.Join(got, ",") != strings.Join(tc.actions, ",") {
				t.Errorf("requests %v, want %v", got, tc.actions)
			}
			after, err := dyn.Resource(gvr).Namespace("team-a").Get(t.Context(), "hello", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if msg, _, _ := unstructured.NestedString(after.Object, "status", "message"); msg != "rendered" {
				t.Errorf("status.message %q, want the pipeline's", msg)
			}
			if run, _, _ := unstructured.NestedSlice(after.Object, "status", "kratix", "workflows", "pipelines"); len(run) != 1 {
				t.Errorf("status.kratix.workflows.pipelines %v, want the pipeline's entry with its reportedRun", run)
			}
			if tc.kept != "" {
				if v, _, _ := unstructured.NestedString(after.Object, "status", tc.kept); v != "written meanwhile" {
					t.Errorf("status.%s %q: a write made after the reader's read was lost", tc.kept, v)
				}
			}
		})
	}
}
