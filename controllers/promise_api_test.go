package controllers

import (
	"encoding/json"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
)

// apiPromise is a Promise named name whose API is the CRD <plural>.<group> of kind with one
// string field per entry of fields, and no workflows.
func apiPromise(t testing.TB, name, group, kind string, fields ...string) *v1alpha1.Promise {
	t.Helper()
	plural := strings.ToLower(kind) + "s"
	props := map[string]any{}
	for _, f := range fields {
		props[f] = map[string]any{"type": "string"}
	}
	crd := map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": plural + "." + group},
		"spec": map[string]any{
			"group": group,
			"names": map[string]any{"kind": kind, "plural": plural, "singular": strings.ToLower(kind)},
			"scope": "Namespaced",
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object",
					"properties": map[string]any{"spec": map[string]any{
						"type": "object", "properties": props,
					}},
				}},
			}},
		},
	}
	raw, err := runtime.Encode(unstructured.UnstructuredJSONScheme, &unstructured.Unstructured{Object: crd})
	if err != nil {
		t.Fatal(err)
	}
	return &v1alpha1.Promise{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.PromiseSpec{API: &runtime.RawExtension{Raw: raw}},
	}
}

// A Promise's API is installed as a CRD with the engine's additions, its status says what it
// serves, an update adding a field lets requests use it, and existing requests keep working.
func TestPromiseInstallsAndUpdatesItsAPI(t *testing.T) {
	startPlatform(t)
	name := uniqueName("api")
	group := name + ".example.com"
	promise := apiPromise(t, name, group, "Database", "size")
	create(t, promise)
	waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	if promise.Status.Kind != "Database" || promise.Status.APIVersion != group+"/v1" {
		t.Errorf("status kind %q apiVersion %q", promise.Status.Kind, promise.Status.APIVersion)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := env.Client.Get(t.Context(), client.ObjectKey{Name: "databases." + group}, crd); err != nil {
		t.Fatal(err)
	}
	if crd.Spec.Versions[0].Subresources == nil || crd.Spec.Versions[0].Subresources.Status == nil {
		t.Error("the CRD has no status subresource")
	}
	if crd.Labels[v1alpha1.LabelPromiseName] != name {
		t.Errorf("CRD labels %v", crd.Labels)
	}

	db := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": group + "/v1", "kind": "Database",
		"metadata": map[string]any{"name": "orders", "namespace": "default"},
		"spec":     map[string]any{"size": "small"},
	}}
	create(t, db)
	waitForRequest(t, db, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)

	withRegion := apiPromise(t, name, group, "Database", "size", "region")
	update(t, promise, func(p *v1alpha1.Promise) { p.Spec.API = withRegion.Spec.API })
	waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	second := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": group + "/v1", "kind": "Database",
		"metadata": map[string]any{"name": "billing", "namespace": "default"},
		"spec":     map[string]any{"size": "large", "region": "eu"},
	}}
	waitFor(t, "the CRD to accept the new field", func() error {
		probe := second.DeepCopy()
		return env.Client.Create(t.Context(), probe, client.DryRunAll)
	})
	create(t, second)
	waitForRequest(t, second, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
	waitForRequest(t, db, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
}

// A Promise whose API cannot be installed says why in a condition and an Event; a Promise next
// to it is not affected; a change of an installed API's group is refused and the CRD kept.
func TestPromiseWithABadAPI(t *testing.T) {
	startPlatform(t)
	name := uniqueName("bad")
	bad := apiPromise(t, name, name+".example.com", "Widget")
	var crd map[string]any
	if err := json.Unmarshal(bad.Spec.API.Raw, &crd); err != nil {
		t.Fatal(err)
	}
	crd["metadata"] = map[string]any{"name": "not-the-plural." + name + ".example.com"}
	raw, err := json.Marshal(crd)
	if err != nil {
		t.Fatal(err)
	}
	bad.Spec.API.Raw = raw
	create(t, bad)
	good := apiPromise(t, uniqueName("good"), uniqueName("good")+".example.com", "Gadget")
	create(t, good)

	cond := waitForPromise(t, bad, v1alpha1.ConditionAvailable, metav1.ConditionFalse, v1alpha1.ReasonInvalidAPI)
	if !strings.Contains(cond.Message, "not-the-plural") {
		t.Errorf("the message does not name the problem: %q", cond.Message)
	}
	waitForEvent(t, "Promise", bad.Name, "Warning", v1alpha1.ReasonInvalidAPI)
	waitForPromise(t, good, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)

	moved := apiPromise(t, good.Name, "elsewhere.example.com", "Gadget")
	update(t, good, func(p *v1alpha1.Promise) { p.Spec.API = moved.Spec.API })
	cond = waitForPromise(t, good, v1alpha1.ConditionAvailable, metav1.ConditionFalse, v1alpha1.ReasonInvalidAPI)
	if !strings.Contains(cond.Message, "group") {
		t.Errorf("the message does not say the group changed: %q", cond.Message)
	}
	if err := env.Client.Get(t.Context(), client.ObjectKey{Name: "gadgets.elsewhere.example.com"}, &apiextensionsv1.CustomResourceDefinition{}); err == nil {
		t.Error("a CRD was installed for the new group")
	}
}
