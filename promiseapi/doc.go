// Package promiseapi turns a Promise's spec.api into the CustomResourceDefinition the engine
// installs, and answers the questions the controllers ask about it. Everything here is a pure
// function over API types: no Kubernetes client and no I/O (CONTRACT.md §1, §5 and §7).
//
// The pieces:
//
//   - CRD decodes spec.api strictly as an apiextensions.k8s.io/v1 CustomResourceDefinition,
//     checks what the engine relies on (name, group, names, scope, one storage version, a served
//     version) and returns the CRD to apply: a status subresource and an open status schema on
//     every version, default printer columns, the kratix category and the engine's labels.
//     Every problem found is reported at once in an InvalidAPIError, whose message is meant for
//     the Promise's condition with reason InvalidAPI. A Promise without an API gets ErrNoAPI.
//   - CheckUpdate refuses the changes an installed CRD cannot take without orphaning the
//     resource requests it serves: its name, group, kind, plural or scope, or dropping a version
//     that objects are stored at. New versions and schema changes are allowed.
//   - StorageVersion, ServedVersion, GroupVersionKind, GroupVersionResource and Namespaced
//     summarise a CRD for the controllers and the pipelines.
package promiseapi
