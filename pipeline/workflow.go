package pipeline

import (
	"errors"
	"fmt"
	"maps"

	"kratix.dev/kratix/internal/names"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/promiseapi"
)

// Workflow is one workflow of one object: a Promise's promise workflow, acting on the Promise,
// or its resource workflow, acting on one resource request; for configure or for delete.
type Workflow struct {
	// Type is v1alpha1.WorkflowTypePromise or v1alpha1.WorkflowTypeResource.
	Type string
	// Action is v1alpha1.WorkflowActionConfigure or v1alpha1.WorkflowActionDelete.
	Action string
	// Promise whose workflow it is; for a promise workflow also the object it acts on.
	Promise *v1alpha1.Promise
	// Object is the resource request of a resource workflow; nil for a promise workflow.
	Object *unstructured.Unstructured
}

// Pipelines returns the pipelines the workflow runs, in order: every configure pipeline, or the
// first delete pipeline only (CONTRACT.md §1). None when the Promise defines no such workflow.
func (w Workflow) Pipelines() ([]v1alpha1.Pipeline, error) {
	if err := w.validate(); err != nil {
		return nil, err
	}
	triggers := w.Promise.Spec.Workflows.Promise
	if w.Type == v1alpha1.WorkflowTypeResource {
		triggers = w.Promise.Spec.Workflows.Resource
	}
	if w.Action == v1alpha1.WorkflowActionConfigure {
		return triggers.Configure, nil
	}
	if len(triggers.Delete) == 0 {
		return nil, nil
	}
	return triggers.Delete[:1], nil
}

// Namespace is where the workflow's Jobs, and the Works they write, live: the platform namespace
// for a promise workflow; for a resource workflow the Promise's pipelineNamespace when set, else
// the request's namespace, else (a cluster-scoped request) the platform namespace.
func (w Workflow) Namespace(opts Options) string {
	if w.Type != v1alpha1.WorkflowTypeResource || w.Promise == nil || w.Object == nil {
		return opts.withDefaults().PlatformNamespace
	}
	return ResourceWorkflowNamespace(w.Promise, w.Object.GetNamespace(), opts)
}

// ResourceWorkflowNamespace is where the resource workflows of a request in requestNamespace
// ("" for a cluster-scoped request) run and write their Works: the Promise's pipelineNamespace
// when set, else the request's namespace, else the platform namespace. A nil Promise (one that
// no longer exists) counts as one without a pipelineNamespace.
func ResourceWorkflowNamespace(promise *v1alpha1.Promise, requestNamespace string, opts Options) string {
	if promise != nil && promise.Spec.Workflows.Config.PipelineNamespace != "" {
		return promise.Spec.Workflows.Config.PipelineNamespace
	}
	if requestNamespace != "" {
		return requestNamespace
	}
	return opts.withDefaults().PlatformNamespace
}

// Selector returns the labels that every Job of this workflow for this object carries and no
// other Job does; list the Jobs with it in Namespace.
func (w Workflow) Selector() map[string]string {
	labels := map[string]string{
		v1alpha1.LabelPromiseName:    names.LabelValue(w.Promise.Name),
		v1alpha1.LabelWorkflowType:   w.Type,
		v1alpha1.LabelWorkflowAction: w.Action,
	}
	if w.Type == v1alpha1.WorkflowTypeResource && w.Object != nil {
		maps.Copy(labels, requestLabels(w.Object.GetNamespace(), w.Object.GetName()))
	}
	return labels
}

// RequestSelector returns the labels that the ServiceAccounts and RBAC objects of a resource
// request's own (BuildAccess) carry, of both its workflows and every pipeline: list them with it
// in every namespace to remove what the request leaves behind. Its Jobs carry them too. A request
// name too long for a label value is shortened, so two such requests of one namespace whose
// names share their first 52 characters could, with a 40-bit hash collision, match each other's.
func RequestSelector(promise, namespace, name string) map[string]string {
	labels := requestLabels(namespace, name)
	labels[v1alpha1.LabelPromiseName] = names.LabelValue(promise)
	labels[v1alpha1.LabelWorkflowType] = v1alpha1.WorkflowTypeResource
	return labels
}

// validate checks that the workflow names a known type and action and the objects it needs.
func (w Workflow) validate() error {
	if w.Promise == nil {
		return errors.New("workflow has no Promise")
	}
	if w.Action != v1alpha1.WorkflowActionConfigure && w.Action != v1alpha1.WorkflowActionDelete {
		return fmt.Errorf("workflow action %q is neither %q nor %q", w.Action, v1alpha1.WorkflowActionConfigure, v1alpha1.WorkflowActionDelete)
	}
	switch w.Type {
	case v1alpha1.WorkflowTypePromise:
		if w.Object != nil {
			return errors.New("a promise workflow acts on its Promise; it takes no resource request")
		}
	case v1alpha1.WorkflowTypeResource:
		if w.Object == nil {
			return errors.New("a resource workflow needs its resource request")
		}
	default:
		return fmt.Errorf("workflow type %q is neither %q nor %q", w.Type, v1alpha1.WorkflowTypePromise, v1alpha1.WorkflowTypeResource)
	}
	return nil
}

// objectRef is what a pipeline's containers are told about the object the workflow acts on.
type objectRef struct {
	Kind, Group, Version, APIVersion string
	Name, Namespace, UID             string
	Plural                           string
	ClusterScoped                    bool
}

// object describes the object the workflow acts on: the Promise itself, or the resource request
// as the Promise's API (its CRD) defines it.
func (w Workflow) object() (objectRef, error) {
	if w.Type == v1alpha1.WorkflowTypePromise {
		return objectRef{
			Kind:          "Promise",
			Group:         v1alpha1.GroupVersion.Group,
			Version:       v1alpha1.GroupVersion.Version,
			APIVersion:    v1alpha1.GroupVersion.String(),
			Name:          w.Promise.Name,
			Plural:        "promises",
			ClusterScoped: true,
			UID:           string(w.Promise.UID),
		}, nil
	}
	api, err := promiseapi.CRD(w.Promise)
	if errors.Is(err, promiseapi.ErrNoAPI) {
		return objectRef{}, fmt.Errorf("the Promise %q has no API, so it has no resource requests", w.Promise.Name)
	}
	if err != nil {
		return objectRef{}, fmt.Errorf("the API of Promise %q: %w", w.Promise.Name, err)
	}
	gvk := w.Object.GroupVersionKind()
	if gvk.Group != api.Spec.Group || gvk.Kind != api.Spec.Names.Kind {
		return objectRef{}, fmt.Errorf("resource request %q is a %s, but Promise %q serves %s.%s", w.Object.GetName(), gvk.GroupKind(), w.Promise.Name, api.Spec.Names.Kind, api.Spec.Group)
	}
	ref := objectRef{
		Kind:          gvk.Kind,
		Group:         gvk.Group,
		Version:       gvk.Version,
		APIVersion:    w.Object.GetAPIVersion(),
		Name:          w.Object.GetName(),
		Namespace:     w.Object.GetNamespace(),
		Plural:        api.Spec.Names.Plural,
		ClusterScoped: !promiseapi.Namespaced(api),
		UID:           string(w.Object.GetUID()),
	}
	if !ref.ClusterScoped && ref.Namespace == "" {
		return objectRef{}, fmt.Errorf("resource request %q has no namespace, but %s is namespaced", ref.Name, api.Spec.Names.Kind)
	}
	return ref, nil
}
