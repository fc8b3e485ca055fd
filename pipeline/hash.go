package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kratix.dev/kratix/api/v1alpha1"
)

// specHashLength is how many hex characters of SHA-256 a spec hash keeps: 128 bits, and short
// enough for a label value.
const specHashLength = 32

// SpecHash is the digest carried by the kratix.io/hash label of a workflow's Jobs: of the
// Promise's spec and, when obj is a resource request, of the request's .spec. A change to either
// re-runs the workflow from its first pipeline (CONTRACT.md §5 and §6). Pass a nil obj for
// promise workflows. The digest is over canonical JSON (object keys sorted), so it does not
// depend on how the API server happened to order fields; it is a valid label value.
func SpecHash(promise *v1alpha1.Promise, obj *unstructured.Unstructured) (string, error) {
	if promise == nil {
		return "", fmt.Errorf("hash a workflow's spec: no Promise")
	}
	h := sha256.New()
	if err := writeCanonical(h, "promise", promise.Spec); err != nil {
		return "", fmt.Errorf("hash the spec of Promise %q: %w", promise.Name, err)
	}
	if obj != nil {
		spec := obj.Object["spec"]
		if err := writeCanonical(h, "resource", spec); err != nil {
			return "", fmt.Errorf("hash the spec of resource request %q: %w", obj.GetName(), err)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:specHashLength], nil
}

// writeCanonical writes a labelled, length-prefixed canonical JSON encoding of v into h, so that
// the promise part and the resource part can never run into each other.
func writeCanonical(h hash.Hash, label string, v any) error {
	data, err := canonicalJSON(v)
	if err != nil {
		return err
	}
	// A hash.Hash never returns an error from Write.
	fmt.Fprintf(h, "%s %d\n", label, len(data))
	h.Write(data)
	return nil
}

// canonicalJSON encodes v as JSON with every object's keys sorted, keeping numbers exactly as
// written.
func canonicalJSON(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	return json.Marshal(generic)
}

// PromiseSpecHash is the digest of a Promise spec alone, as PromiseRevisions carry it in their
// kratix.io/spec-hash label: two revisions with the same digest run the same workflows.
func PromiseSpecHash(spec *v1alpha1.PromiseSpec) (string, error) {
	h := sha256.New()
	if err := writeCanonical(h, "promise", spec); err != nil {
		return "", fmt.Errorf("hash a Promise spec: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:specHashLength], nil
}
