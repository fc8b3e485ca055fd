// Package policy holds the engine's admission policies (ValidatingAdmissionPolicies and their
// bindings), embedded so that `kratix local` and the tests install exactly what the cluster
// install (config/default) applies.
package policy

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldOwner is the field manager of the policies that Apply installs.
const FieldOwner = "kratix"

// WorkOwnership is work_ownership.yaml: only a Promise's own workflows write its Works.
//
//go:embed work_ownership.yaml
var WorkOwnership []byte

// StoreSecretAccess is store_secret_access.yaml: only someone who may read a Secret may point a
// state store at it.
//
//go:embed store_secret_access.yaml
var StoreSecretAccess []byte

// WorkPlacementWriters is workplacement_writers.yaml: only the engine writes WorkPlacements.
//
//go:embed workplacement_writers.yaml
var WorkPlacementWriters []byte

// PromiseReleaseSecretAccess is promiserelease_secret_access.yaml: only someone who may read a
// Secret may have a PromiseRelease send it to a URL.
//
//go:embed promiserelease_secret_access.yaml
var PromiseReleaseSecretAccess []byte

// LatestRevisionDeletion is latest_revision_deletion.yaml: only the engine deletes a Promise's
// latest PromiseRevision.
//
//go:embed latest_revision_deletion.yaml
var LatestRevisionDeletion []byte

// files are the policy files by name, in the order to apply them (kustomization.yaml lists the
// same).
var files = []struct {
	name string
	data []byte
}{
	{"work_ownership.yaml", WorkOwnership},
	{"store_secret_access.yaml", StoreSecretAccess},
	{"workplacement_writers.yaml", WorkPlacementWriters},
	{"promiserelease_secret_access.yaml", PromiseReleaseSecretAccess},
	{"latest_revision_deletion.yaml", LatestRevisionDeletion},
}

// Objects decodes the policies and their bindings, in the order to apply them.
func Objects() ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, f := range files {
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(f.data), 4096)
		for {
			obj := &unstructured.Unstructured{}
			if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("decode %s: %w", f.name, err)
			}
			if len(obj.Object) > 0 {
				out = append(out, obj)
			}
		}
	}
	return out, nil
}

// Apply installs the policies and their bindings with server-side apply, or brings them up to
// date: a new binary brings its policies along.
func Apply(ctx context.Context, c client.Client) error {
	objs, err := Objects()
	if err != nil {
		return err
	}
	for _, obj := range objs {
		if err := c.Patch(ctx, obj, client.Apply, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
			return fmt.Errorf("apply %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}
