package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"kratix.dev/kratix/internal/names"

	"kratix.dev/kratix/api/v1alpha1"
)

// jobNamePrefix starts every Job name, as in upstream Kratix.
const jobNamePrefix = "kratix-"

// jobRunIDLength is how many hex characters of the run digest end a Job name.
const jobRunIDLength = 8

// jobName is "kratix-<promise>[-<resource>]-<pipeline>-<run id>", where the run id is a digest
// of everything that makes this Job one of a kind: workflow type and action, the object's
// namespace and name, the pipeline, the spec hash and the run number. The name is the same for
// the same decision, so a reconcile working from a stale cache gets AlreadyExists instead of
// starting a second Job, and new for every run. It is kept to 63 characters (Kubernetes puts a
// Job's name in a label of its Pods) and dots become dashes (Pod host names are DNS labels).
func jobName(w Workflow, obj objectRef, pipeline, hash string, run int) string {
	id := digest(w.Type, w.Action, obj.Namespace, obj.Name, pipeline, hash, fmt.Sprint(run))[:jobRunIDLength]
	parts := []string{w.Promise.Name}
	if w.Type == v1alpha1.WorkflowTypeResource {
		parts = append(parts, obj.Name)
	}
	parts = append(parts, pipeline, id)
	name := jobNamePrefix + strings.ReplaceAll(strings.Join(parts, "-"), ".", "-")
	return names.LabelValue(name)
}

// accessBaseName names a pipeline's ServiceAccount and is the stem of its RBAC objects:
// "<promise>-<type>-<action>-<pipeline>", which says whose pipeline it is for a platform team
// reading `kubectl get serviceaccounts` or writing extra RBAC against it.
func accessBaseName(w Workflow, pipeline string) string {
	return fmt.Sprintf("%s-%s-%s-%s", w.Promise.Name, w.Type, w.Action, pipeline)
}

// accessName is accessBaseName followed by dot-separated qualifiers, within Kubernetes' limit.
// Pipeline names have no dots, so a qualified name never equals another pipeline's base name.
func accessName(w Workflow, pipeline string, qualifiers ...string) string {
	return names.Shorten(strings.Join(append([]string{accessBaseName(w, pipeline)}, qualifiers...), "."))
}

// requestServiceAccountName names the ServiceAccount that a resource request's pipeline runs
// as: "<base>.<request>", or "<base>.<namespace>.<request>" when the Promise sets a
// pipelineNamespace, where the Jobs of every namespace's requests meet. Pipeline and namespace
// names have no dots, so no two requests whose Jobs run in one namespace share a name, and none
// takes the name of the pipeline's shared ServiceAccount of a Promise workflow (accessBaseName).
func requestServiceAccountName(w Workflow, pipeline string, obj objectRef) string {
	parts := []string{accessBaseName(w, pipeline)}
	if w.Promise.Spec.Workflows.Config.PipelineNamespace != "" && obj.Namespace != "" {
		parts = append(parts, obj.Namespace)
	}
	return names.Shorten(strings.Join(append(parts, obj.Name), "."))
}

// requestAccessName is name followed by ":" and the request, "<namespace>:<name>" or the name of a
// cluster-scoped request: the name of a request's own role, and of the binding of any role to
// its ServiceAccount. No object or namespace name holds a colon (RBAC names may), so the names
// of two requests' objects, or of the bindings of two roles, never meet.
func requestAccessName(name string, obj objectRef) string {
	parts := []string{name}
	if obj.Namespace != "" {
		parts = append(parts, obj.Namespace)
	}
	return names.Shorten(strings.Join(append(parts, obj.Name), ":"))
}

// bindingName names the binding of a grant's role to the pipeline's ServiceAccount.
//
// To a request's own ServiceAccount: the binding of the request's own role takes the role's
// name; the binding of a shared role is requestAccessName of the role's name. The binding of the
// shared Role for Works is thus named like the request's own role's binding, but engineGrants
// never builds both in one namespace: when the Job runs in the request's namespace, the
// request's own role holds Works.
//
// To a shared ServiceAccount: a binding in its own namespace takes the role's name. Elsewhere,
// and cluster-wide, the ServiceAccount's namespace is added: requests in several namespaces each
// have their own ServiceAccount, and each needs its own binding of the one shared role.
func bindingName(s step, g grant) string {
	switch {
	case g.perRequest:
		return g.name
	case s.perRequest:
		return requestAccessName(g.name, s.object)
	case g.namespace == s.namespace:
		return g.name
	default:
		return names.Shorten(g.name + "." + s.namespace)
	}
}

// digest is the hex SHA-256 of parts, each terminated so that no two lists share an encoding.
func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		// A hash.Hash never returns an error from Write.
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
