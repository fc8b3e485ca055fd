package promiseapi

import (
	"fmt"
	"slices"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// CheckUpdate says whether the installed CRD may be replaced by desired (both as CRD returns
// them, or installed as read from the API server). It returns an *InvalidAPIError when desired
// changes what identifies the resource requests the CRD serves — metadata.name, spec.group,
// spec.names.kind, spec.names.plural or spec.scope — since existing requests would be orphaned,
// or when it drops a version listed in the installed CRD's status.storedVersions, since objects
// are stored at it. Adding versions, removing versions nothing is stored at, and changing
// schemas, printer columns and other names are allowed. A nil installed or desired CRD allows
// everything.
func CheckUpdate(installed, desired *apiextensionsv1.CustomResourceDefinition) error {
	if installed == nil || desired == nil {
		return nil
	}
	var problems []error
	immutable := func(field, from, to string) {
		if from != to {
			problems = append(problems, fmt.Errorf("spec.api.%s cannot change from %q to %q once installed", field, from, to))
		}
	}
	immutable("spec.group", installed.Spec.Group, desired.Spec.Group)
	immutable("spec.names.kind", installed.Spec.Names.Kind, desired.Spec.Names.Kind)
	immutable("spec.names.plural", installed.Spec.Names.Plural, desired.Spec.Names.Plural)
	immutable("spec.scope", string(installed.Spec.Scope), string(desired.Spec.Scope))
	if installed.Spec.Group == desired.Spec.Group && installed.Spec.Names.Plural == desired.Spec.Names.Plural {
		// Otherwise the name changes with them and is already reported.
		immutable("metadata.name", installed.Name, desired.Name)
	}
	if len(problems) > 0 {
		problems = append(problems, fmt.Errorf("existing resource requests would be orphaned: publish the changed API as a new Promise"))
	}

	for _, stored := range installed.Status.StoredVersions {
		if !slices.ContainsFunc(desired.Spec.Versions, func(v apiextensionsv1.CustomResourceDefinitionVersion) bool { return v.Name == stored }) {
			problems = append(problems, fmt.Errorf("spec.api.spec.versions must keep version %q: resource requests are stored at it (status.storedVersions of CRD %q)", stored, installed.Name))
		}
	}
	return invalid(problems)
}
