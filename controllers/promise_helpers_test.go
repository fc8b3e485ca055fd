package controllers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/conditions"
	"kratix.dev/kratix/internal/testenv"
)

// exampleObjects reads the objects of a file under the repository's examples/.
func exampleObjects(t testing.TB, name string) []*unstructured.Unstructured {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "examples", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatalf("%s: %v", path, err)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}

// examplePromise reads the Promise of an example file.
func examplePromise(t testing.TB, name string) *v1alpha1.Promise {
	t.Helper()
	for _, obj := range exampleObjects(t, name) {
		if obj.GetKind() == "Promise" {
			p := &v1alpha1.Promise{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, p); err != nil {
				t.Fatal(err)
			}
			return p
		}
	}
	t.Fatalf("%s holds no Promise", name)
	return nil
}

// exampleRequests reads the objects of an example file that are neither Promises nor
// Destinations: its resource requests.
func exampleRequests(t *testing.T, name string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, obj := range exampleObjects(t, name) {
		if obj.GetAPIVersion() != v1alpha1.GroupVersion.String() {
			out = append(out, obj)
		}
	}
	return out
}

// waitForPromise waits until the Promise's condition has the status and reason.
func waitForPromise(t *testing.T, p *v1alpha1.Promise, condType string, status metav1.ConditionStatus, reason string) metav1.Condition {
	t.Helper()
	var got metav1.Condition
	waitFor(t, fmt.Sprintf("Promise %s %s=%s %s", p.Name, condType, status, reason), func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(p), p); err != nil {
			return err
		}
		c := meta.FindStatusCondition(p.Status.Conditions, condType)
		switch {
		case c == nil:
			return fmt.Errorf("no %s condition: %+v", condType, p.Status)
		case c.Status != status || c.Reason != reason:
			return fmt.Errorf("%s=%s %s: %s", condType, c.Status, c.Reason, c.Message)
		case status == metav1.ConditionTrue && c.ObservedGeneration != p.Generation:
			return fmt.Errorf("generation %d not observed yet (%d)", p.Generation, c.ObservedGeneration)
		}
		got = *c
		return nil
	})
	return got
}

// waitForRequest waits until the resource request's condition has the status and reason for
// its current generation; the latest object is left in obj.
func waitForRequest(t *testing.T, obj *unstructured.Unstructured, condType string, status metav1.ConditionStatus, reason string) metav1.Condition {
	t.Helper()
	var got metav1.Condition
	waitFor(t, fmt.Sprintf("%s %s %s=%s %s", obj.GetKind(), obj.GetName(), condType, status, reason), func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		conds, err := conditions.FromUnstructured(obj)
		if err != nil {
			return err
		}
		c := meta.FindStatusCondition(conds, condType)
		switch {
		case c == nil:
			return fmt.Errorf("no %s condition: %v", condType, obj.Object["status"])
		case c.Status != status || c.Reason != reason:
			return fmt.Errorf("%s=%s %s: %s", condType, c.Status, c.Reason, c.Message)
		case status == metav1.ConditionTrue && c.ObservedGeneration != obj.GetGeneration():
			return fmt.Errorf("generation %d not observed yet (%d)", obj.GetGeneration(), c.ObservedGeneration)
		}
		got = *c
		return nil
	})
	return got
}

// kubectl runs bin/kubectl against the test's API server and returns its output.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	cmd, err := env.Kubectl(t.Context(), args...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
