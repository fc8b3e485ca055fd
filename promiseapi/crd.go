package promiseapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"kratix.dev/kratix/internal/names"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"kratix.dev/kratix/api/v1alpha1"
)

// Category is the category every Promise API joins, so that `kubectl get kratix` lists resource
// requests next to the engine's own kinds.
const Category = "kratix"

// crdKind is the kind spec.api must have.
const crdKind = "CustomResourceDefinition"

// ErrNoAPI means the Promise has no spec.api: it only ships dependencies and serves no resource
// requests. It is not a problem with the Promise.
var ErrNoAPI = errors.New("the Promise has no API (spec.api is empty)")

// InvalidAPIError lists every problem found in a Promise's spec.api, or in a change to an
// installed API. Each problem names the field of spec.api it is about. The engine puts Error()
// in the Promise's condition with reason v1alpha1.ReasonInvalidAPI; retrying cannot help until
// the Promise is edited.
type InvalidAPIError struct {
	// Problems found, in the order of the fields they are about.
	Problems []error
}

// Error lists the problems on one line, separated by "; ", so that it reads well in a condition
// message and in `kubectl get promises`.
func (e *InvalidAPIError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap returns the problems, so that errors.Is and errors.As see each of them.
func (e *InvalidAPIError) Unwrap() []error { return e.Problems }

// invalid returns an InvalidAPIError of problems, or nil when there are none.
func invalid(problems []error) error {
	if len(problems) == 0 {
		return nil
	}
	return &InvalidAPIError{Problems: problems}
}

// HasAPI says whether the Promise has an API, that is, whether CRD can return something other
// than ErrNoAPI.
func HasAPI(promise *v1alpha1.Promise) bool {
	raw, err := rawAPI(promise)
	return err != nil || raw != nil
}

// CRD returns the CustomResourceDefinition the engine applies for the Promise's spec.api. It
// returns ErrNoAPI when the Promise has no API and an *InvalidAPIError listing every problem when
// spec.api is not a CustomResourceDefinition the engine can serve: unknown or duplicate fields,
// another apiVersion or kind, a metadata.name other than <spec.names.plural>.<spec.group>, no
// kind or plural, a scope other than Namespaced or Cluster, no version, not exactly one storage
// version, no served version, or a version without a schema.
//
// Of spec.api's metadata only the name, labels and annotations are kept (its status and
// server-set fields are dropped), and the engine completes the CRD:
//
//   - labels kratix.io/promise-name and app.kubernetes.io/managed-by: kratix;
//   - the category "kratix" in spec.names.categories, after the Promise's own;
//   - on every version: the status subresource, a schema that lets status hold anything
//     (unless the Promise's schema defines status), and, when the version has no printer columns,
//     Status (.status.message), Ready (the Ready condition's status) and Age.
//
// The CRD has no ownerReferences: the Promise controller decides when it is deleted. The Promise
// is never modified.
func CRD(promise *v1alpha1.Promise) (*apiextensionsv1.CustomResourceDefinition, error) {
	raw, err := rawAPI(promise)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, ErrNoAPI
	}
	crd, problems := decode(raw)
	if crd == nil {
		return nil, invalid(problems)
	}
	problems = append(problems, validate(crd)...)
	if err := invalid(problems); err != nil {
		return nil, err
	}
	complete(crd, promise.Name)
	return crd, nil
}

// rawAPI returns spec.api as JSON, or nil when the Promise has no API (no spec.api, null or {}).
func rawAPI(promise *v1alpha1.Promise) ([]byte, error) {
	if promise == nil || promise.Spec.API == nil {
		return nil, nil
	}
	raw := bytes.TrimSpace(promise.Spec.API.Raw)
	if len(raw) == 0 && promise.Spec.API.Object != nil {
		encoded, err := json.Marshal(promise.Spec.API.Object)
		if err != nil {
			return nil, invalid([]error{fmt.Errorf("spec.api cannot be encoded: %w", err)})
		}
		raw = encoded
	}
	if len(raw) == 0 {
		return nil, nil
	}
	if !utilyaml.IsJSONBuffer(raw) {
		// Raw is JSON when the Promise came from the API server or from a YAML file; a Promise
		// built in code may carry YAML.
		converted, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return nil, invalid([]error{fmt.Errorf("spec.api is neither JSON nor YAML: %w", err)})
		}
		raw = converted
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, invalid([]error{fmt.Errorf("spec.api must be a CustomResourceDefinition object: %w", err)})
	}
	if len(fields) == 0 {
		return nil, nil
	}
	return raw, nil
}

// strictDecoder decodes JSON into a typed object and reports every unknown and duplicate field
// with its path. Its scheme is empty on purpose: an unregistered target type is decoded as it
// is, without conversion or defaulting.
var strictDecoder = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, runtime.NewScheme(), runtime.NewScheme(),
	kjson.SerializerOptions{Strict: true})

// fieldError is the path-carrying error that strict decoding returns for each bad field
// (sigs.k8s.io/json's FieldError).
type fieldError interface {
	error
	FieldPath() string
	SetFieldPath(path string)
}

// decode reads raw as a CustomResourceDefinition. It returns nil and the problems when raw is
// not one at all (another apiVersion or kind, a value of the wrong type); otherwise the CRD and
// the unknown or duplicate fields found.
func decode(raw []byte) (*apiextensionsv1.CustomResourceDefinition, []error) {
	var tm metav1.TypeMeta
	if err := json.Unmarshal(raw, &tm); err != nil {
		return nil, []error{fmt.Errorf("spec.api must be a CustomResourceDefinition object: %w", err)}
	}
	var problems []error
	wantAPIVersion := apiextensionsv1.SchemeGroupVersion.String()
	if tm.APIVersion != wantAPIVersion {
		problems = append(problems, fmt.Errorf("spec.api.apiVersion is %q but must be %q", tm.APIVersion, wantAPIVersion))
	}
	if tm.Kind != crdKind {
		problems = append(problems, fmt.Errorf("spec.api.kind is %q but must be %q", tm.Kind, crdKind))
	}
	if len(problems) > 0 {
		// Not an apiextensions.k8s.io/v1 CRD: its fields would only add noise.
		return nil, problems
	}

	crd := &apiextensionsv1.CustomResourceDefinition{}
	_, _, err := strictDecoder.Decode(raw, nil, crd)
	if strictErr, ok := runtime.AsStrictDecodingError(err); ok {
		for _, e := range strictErr.Errors() {
			if fe, ok := e.(fieldError); ok {
				fe.SetFieldPath("spec.api." + fe.FieldPath())
			}
			problems = append(problems, e)
		}
	} else if err != nil {
		return nil, []error{fmt.Errorf("spec.api is not a valid CustomResourceDefinition: %w", err)}
	}
	return crd, problems
}

// validate returns every problem of the CRD that the engine relies on or that the API server
// would refuse late, when the CRD is applied.
func validate(crd *apiextensionsv1.CustomResourceDefinition) []error {
	var problems []error
	add := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	spec := crd.Spec

	if spec.Group == "" {
		add("spec.api.spec.group is required")
	}
	if spec.Names.Kind == "" {
		add("spec.api.spec.names.kind is required")
	}
	if spec.Names.Plural == "" {
		add("spec.api.spec.names.plural is required")
	}
	switch {
	case crd.Name == "":
		add("spec.api.metadata.name is required: <spec.names.plural>.<spec.group>")
	case spec.Group != "" && spec.Names.Plural != "" && crd.Name != spec.Names.Plural+"."+spec.Group:
		add("spec.api.metadata.name is %q but must be %q (<spec.names.plural>.<spec.group>)", crd.Name, spec.Names.Plural+"."+spec.Group)
	}
	switch spec.Scope {
	case apiextensionsv1.NamespaceScoped, apiextensionsv1.ClusterScoped:
	case "":
		add("spec.api.spec.scope is required: Namespaced or Cluster")
	default:
		add("spec.api.spec.scope is %q but must be Namespaced or Cluster", spec.Scope)
	}

	if len(spec.Versions) == 0 {
		add("spec.api.spec.versions is empty: at least one version is required")
		return problems
	}
	var storage []string
	served := false
	seen := map[string]int{}
	for i, v := range spec.Versions {
		switch j, dup := seen[v.Name]; {
		case v.Name == "":
			add("spec.api.spec.versions[%d].name is required", i)
		case dup:
			add("spec.api.spec.versions[%d].name %q is also the name of versions[%d]", i, v.Name, j)
		default:
			seen[v.Name] = i
		}
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			add("spec.api.spec.versions[%d].schema.openAPIV3Schema is required", i)
		}
		if v.Storage {
			storage = append(storage, v.Name)
		}
		served = served || v.Served
	}
	switch len(storage) {
	case 1:
	case 0:
		add("spec.api.spec.versions: no version has storage: true, exactly one must")
	default:
		add("spec.api.spec.versions: %d versions have storage: true (%s), exactly one must", len(storage), strings.Join(storage, ", "))
	}
	if !served {
		add("spec.api.spec.versions: no version has served: true, so no resource request can be made")
	}
	return problems
}

// defaultPrinterColumns are the columns of a version that defines none. Age must be listed:
// kubectl shows it by default only for CRDs without any printer column.
var defaultPrinterColumns = []apiextensionsv1.CustomResourceColumnDefinition{
	{Name: "Status", Type: "string", JSONPath: ".status.message", Description: "What the engine and the workflows last reported"},
	{Name: "Ready", Type: "string", JSONPath: `.status.conditions[?(@.type=="Ready")].status`, Description: "Whether the request's workflows ran and their output was written"},
	{Name: "Age", Type: "date", JSONPath: ".metadata.creationTimestamp"},
}

// complete turns a valid CRD decoded from spec.api into the one the engine applies (see CRD).
// crd is freshly decoded, so it is modified in place.
func complete(crd *apiextensionsv1.CustomResourceDefinition, promiseName string) {
	labels := maps.Clone(crd.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[v1alpha1.LabelPromiseName] = names.LabelValue(promiseName)
	labels[v1alpha1.LabelManagedBy] = v1alpha1.LabelManagedByValue
	crd.TypeMeta = metav1.TypeMeta{APIVersion: apiextensionsv1.SchemeGroupVersion.String(), Kind: crdKind}
	crd.ObjectMeta = metav1.ObjectMeta{Name: crd.Name, Labels: labels, Annotations: crd.Annotations}
	crd.Status = apiextensionsv1.CustomResourceDefinitionStatus{}

	if !slices.Contains(crd.Spec.Names.Categories, Category) {
		crd.Spec.Names.Categories = append(crd.Spec.Names.Categories, Category)
	}
	for i := range crd.Spec.Versions {
		v := &crd.Spec.Versions[i]
		if v.Subresources == nil {
			v.Subresources = &apiextensionsv1.CustomResourceSubresources{}
		}
		if v.Subresources.Status == nil {
			v.Subresources.Status = &apiextensionsv1.CustomResourceSubresourceStatus{}
		}
		schema := v.Schema.OpenAPIV3Schema
		if _, defined := schema.Properties["status"]; !defined {
			if schema.Properties == nil {
				schema.Properties = map[string]apiextensionsv1.JSONSchemaProps{}
			}
			preserve := true
			schema.Properties["status"] = apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: &preserve}
		}
		if len(v.AdditionalPrinterColumns) == 0 {
			v.AdditionalPrinterColumns = slices.Clone(defaultPrinterColumns)
		}
	}
}
