package controllers

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
)

// TestPipelinesOfTwoPromisesNeverShareAnIdentity: pipeline names with dashes let two Promises'
// pipelines meet on one ServiceAccount and Role name ("<promise>-<type>-<action>-<pipeline>"):
// Promise p's Promise pipeline "resource-configure-render" and Promise p-promise-configure's
// resource pipeline "render", run in the platform namespace. The second to apply its access is
// refused as an invalid workflow, naming the first, and the first's objects stay as they were;
// nor may a pipeline name the engine's ServiceAccount of another Promise's pipeline as its own.
func TestPipelinesOfTwoPromisesNeverShareAnIdentity(t *testing.T) {
	platform := uniqueName("platform")
	ensureNamespace(t, platform)
	opts := pipeline.Options{PlatformNamespace: platform}
	first := ownedPromise(t, uniqueName("shop"), "")
	first.Spec.Workflows.Promise.Configure[0].Metadata.Name = "resource-configure-render"
	second := ownedPromise(t, first.Name+"-promise-configure", platform)
	second.Spec.Workflows.Resource.Configure[0].Metadata.Name = "render"

	firstWorkflow := pipeline.Workflow{Type: v1alpha1.WorkflowTypePromise, Action: v1alpha1.WorkflowActionConfigure, Promise: first}
	firstSA := pipelineAccount(t, firstWorkflow, opts)

	w := resourceWorkflowOf(t, second, uniqueName("team"))
	access, err := pipeline.BuildAccess(w, 0, opts)
	if err != nil {
		t.Fatal(err)
	}
	d := &workflowDriver{client: env.Client, reader: env.Client, options: opts}
	err = d.applyAccess(t.Context(), w, access)
	if !errors.Is(err, errInvalidWorkflow) || !strings.Contains(err.Error(), `of Promise "`+first.Name+`"`) {
		t.Errorf("the second Promise's access: %v, want an invalid workflow that names Promise %s", err, first.Name)
	}

	ns, name, _ := strings.Cut(firstSA, "/")
	borrowed := &corev1.ServiceAccount{}
	borrowed.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ServiceAccount"))
	borrowed.Namespace, borrowed.Name = ns, name
	if err := d.checkNotAnothers(t.Context(), borrowed, nil); !errors.Is(err, errInvalidWorkflow) {
		t.Errorf("a pipeline that names %s as its own ServiceAccount: %v, want an invalid workflow", firstSA, err)
	}
	own := borrowed.DeepCopy()
	own.Name = uniqueName("mine")
	if err := d.checkNotAnothers(t.Context(), own, nil); err != nil {
		t.Errorf("a pipeline that names a ServiceAccount the engine did not make: %v", err)
	}
}
