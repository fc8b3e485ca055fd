// Package applier is the local platform's GitOps agent for one directory of its Git state
// store: it reads the manifests under that directory on a branch of the bare repository and
// applies them to the platform's own API server with server-side apply, dependencies/ before
// resources/, under a field manager of its own, and deletes what it applied once it leaves the
// directory. It is what a Flux Kustomization on the platform cluster does for a Destination
// labelled environment: platform, so that compound Promises work on `kratix local`; the
// directory's history in Git stays the record.
//
// What it applied is labelled kratix.io/applied-by=<FieldManager> and listed in an inventory
// ConfigMap; an object leaves the inventory, and is deleted, only when no file holds it any more.
package applier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Defaults of an Applier.
const (
	DefaultFieldManager = "kratix-local-platform-applier"
	// LabelAppliedBy marks what an applier applied; its value is the applier's field manager.
	LabelAppliedBy = "kratix.io/applied-by"
	// inventoryKey is the key of the inventory ConfigMap's data.
	inventoryKey = "inventory.json"
)

// Applier applies one directory of a branch of a bare Git repository to an API server.
type Applier struct {
	// Client writes to the API server; its RESTMapper must find kinds installed after it was
	// built (controller-runtime's default dynamic mapper does).
	Client client.Client
	// Repository is the path of the bare repository.
	Repository string
	// Branch is the branch to read, e.g. main.
	Branch string
	// Dir is the directory of the branch to apply, e.g. platform.
	Dir string
	// FieldManager of the server-side applies; DefaultFieldManager when empty.
	FieldManager string
	// InventoryNamespace and InventoryName name the ConfigMap that lists what was applied.
	InventoryNamespace, InventoryName string
	// Poll is how often Run looks at the branch; a second when zero.
	Poll time.Duration
	// Resync is how often Run applies everything again although the branch did not move, and
	// Retry how soon after a pass that failed; a minute and five seconds when zero.
	Resync, Retry time.Duration
	Log           logr.Logger

	// seenCommit and seenDir are the branch's commit at the last look and the hash of Dir's
	// tree in it: a look that finds the same commit reads no objects (Run alone uses them).
	seenCommit, seenDir string
}

// ObjectRef names one applied object in the inventory.
type ObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return fmt.Sprintf("%s %s", r.Kind, r.Name)
	}
	return fmt.Sprintf("%s %s/%s", r.Kind, r.Namespace, r.Name)
}

// Result is what one pass did.
type Result struct {
	// Commit applied.
	Commit string
	// Applied and Pruned objects, in order.
	Applied, Pruned []ObjectRef
}

func (a *Applier) fieldManager() string {
	if a.FieldManager == "" {
		return DefaultFieldManager
	}
	return a.FieldManager
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Run applies the directory whenever it changes on the branch, again every Resync, and soon again after
// a pass that failed, until ctx ends.
func (a *Applier) Run(ctx context.Context) error {
	poll, resync, retry := orDefault(a.Poll, time.Second), orDefault(a.Resync, time.Minute), orDefault(a.Retry, 5*time.Second)
	var applied string
	var next time.Time
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		head, err := a.head()
		switch {
		case err != nil:
			a.Log.V(1).Info("cannot read the branch yet", "branch", a.Branch, "error", err.Error())
		case head != applied || !time.Now().Before(next):
			res, err := a.Sync(ctx)
			if err != nil {
				a.Log.Error(err, "apply the directory", "dir", a.Dir, "commit", res.Commit)
				applied, next = "", time.Now().Add(retry)
				break
			}
			if head != applied || len(res.Pruned) > 0 {
				a.Log.Info("applied the directory", "dir", a.Dir, "commit", res.Commit, "objects", len(res.Applied), "pruned", len(res.Pruned))
			}
			// What was read may be newer than head: the next look applies it again, harmlessly.
			applied, next = head, time.Now().Add(resync)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// head identifies what the branch holds under Dir: the hash of the directory's tree, so that
// commits to other directories do not make Run apply again; empty when there is no such branch
// or directory yet.
func (a *Applier) head() (string, error) {
	repo, err := git.PlainOpen(a.Repository)
	if err != nil {
		return "", err
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(a.Branch), true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if ref.Hash().String() == a.seenCommit {
		return a.seenDir, nil
	}
	commit, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return "", err
	}
	tree, err := commit.Tree()
	if err != nil {
		return "", err
	}
	dirHash := tree.Hash.String()
	if dir := strings.Trim(a.Dir, "/"); dir != "" && dir != "." {
		sub, err := tree.Tree(dir)
		switch {
		case errors.Is(err, object.ErrDirectoryNotFound):
			dirHash = ""
		case err != nil:
			return "", err
		default:
			dirHash = sub.Hash.String()
		}
	}
	a.seenCommit, a.seenDir = ref.Hash().String(), dirHash
	return dirHash, nil
}

// manifest is one object of a file.
type manifest struct {
	file string
	obj  *unstructured.Unstructured
}

// read returns the branch's commit and the objects under Dir: those under dependencies/ first,
// then those under resources/, then the rest, each group in path order.
func (a *Applier) read() (string, []manifest, error) {
	repo, err := git.PlainOpen(a.Repository)
	if err != nil {
		return "", nil, fmt.Errorf("open %s: %w", a.Repository, err)
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(a.Branch), true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return "", nil, nil // nothing written yet: nothing to apply
	}
	if err != nil {
		return "", nil, fmt.Errorf("read branch %s: %w", a.Branch, err)
	}
	commit, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return "", nil, fmt.Errorf("read commit %s: %w", ref.Hash(), err)
	}
	root, err := commit.Tree()
	if err != nil {
		return "", nil, err
	}
	dir := strings.Trim(a.Dir, "/")
	tree := root
	if dir != "" && dir != "." {
		tree, err = root.Tree(dir)
		if errors.Is(err, object.ErrDirectoryNotFound) {
			return ref.Hash().String(), nil, nil
		}
		if err != nil {
			return "", nil, fmt.Errorf("read %s: %w", dir, err)
		}
	}
	var files []*object.File
	err = tree.Files().ForEach(func(f *object.File) error {
		switch path.Ext(f.Name) {
		case ".yaml", ".yml", ".json":
			files = append(files, f)
		}
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	sort.SliceStable(files, func(i, j int) bool {
		oi, oj := order(files[i].Name), order(files[j].Name)
		if oi != oj {
			return oi < oj
		}
		return files[i].Name < files[j].Name
	})
	var out []manifest
	for _, f := range files {
		content, err := f.Contents()
		if err != nil {
			return "", nil, fmt.Errorf("read %s: %w", f.Name, err)
		}
		objs, err := decode([]byte(content))
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", path.Join(dir, f.Name), err)
		}
		for _, o := range objs {
			out = append(out, manifest{file: path.Join(dir, f.Name), obj: o})
		}
	}
	return ref.Hash().String(), out, nil
}

// order puts dependencies/ first, then resources/, then anything else.
func order(name string) int {
	switch {
	case strings.HasPrefix(name, "dependencies/"):
		return 0
	case strings.HasPrefix(name, "resources/"):
		return 1
	default:
		return 2
	}
}

// decode reads the objects of a YAML (several documents) or JSON file; kind List is unfolded.
func decode(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		obj := map[string]any{}
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		items := []*unstructured.Unstructured{u}
		if u.IsList() {
			list, err := u.ToList()
			if err != nil {
				return nil, err
			}
			items = items[:0]
			for i := range list.Items {
				items = append(items, &list.Items[i])
			}
		}
		for _, item := range items {
			if item.GetKind() == "" || item.GetAPIVersion() == "" || item.GetName() == "" {
				return nil, errors.New("a document without apiVersion, kind or metadata.name")
			}
			out = append(out, item)
		}
	}
}

// Sync applies the directory once: every object, dependencies first, then deletes what the
// inventory lists and no file holds any more, and records the new inventory. An object that
// cannot be applied (its kind not served yet, say) stays in the inventory and makes the pass
// fail after the others were applied.
func (a *Applier) Sync(ctx context.Context) (Result, error) {
	commit, manifests, err := a.read()
	if err != nil {
		return Result{}, err
	}
	res := Result{Commit: commit}
	before, err := a.inventory(ctx)
	if err != nil {
		return res, err
	}
	var desired []ObjectRef
	var errs []error
	for _, m := range manifests {
		ref, err := a.apply(ctx, m.obj)
		if ref.Name != "" && !slices.Contains(desired, ref) {
			desired = append(desired, ref)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.file, err))
			continue
		}
		res.Applied = append(res.Applied, ref)
	}
	// What the inventory lists and no file holds, last applied first.
	var keep []ObjectRef
	for i := len(before) - 1; i >= 0; i-- {
		ref := before[i]
		if slices.Contains(desired, ref) {
			continue
		}
		if err := a.prune(ctx, ref); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", ref, err))
			keep = append(keep, ref)
			continue
		}
		res.Pruned = append(res.Pruned, ref)
	}
	slices.Reverse(keep)
	if err := a.saveInventory(ctx, append(keep, desired...)); err != nil {
		errs = append(errs, err)
	}
	return res, errors.Join(errs...)
}

// apply applies one object server-side, labelled as the applier's; a namespaced object without
// a namespace goes to default.
func (a *Applier) apply(ctx context.Context, obj *unstructured.Unstructured) (ObjectRef, error) {
	obj = obj.DeepCopy()
	gvk := obj.GroupVersionKind()
	ref := ObjectRef{APIVersion: obj.GetAPIVersion(), Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
	mapping, err := a.Client.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return ref, err
	}
	switch {
	case mapping.Scope.Name() == meta.RESTScopeNameNamespace && obj.GetNamespace() == "":
		obj.SetNamespace(metav1.NamespaceDefault)
	case mapping.Scope.Name() != meta.RESTScopeNameNamespace:
		obj.SetNamespace("")
	}
	ref.Namespace = obj.GetNamespace()
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelAppliedBy] = a.fieldManager()
	obj.SetLabels(labels)
	obj.SetResourceVersion("")
	unstructured.RemoveNestedField(obj.Object, "status")
	unstructured.RemoveNestedField(obj.Object, "metadata", "managedFields")
	unstructured.RemoveNestedField(obj.Object, "metadata", "creationTimestamp")
	//nolint:staticcheck // client.Apply with an unstructured object is server-side apply.
	return ref, a.Client.Patch(ctx, obj, client.Apply, client.FieldOwner(a.fieldManager()), client.ForceOwnership)
}

// prune deletes an object the applier applied; one that is gone, or whose kind is no longer
// served, or that is no longer the applier's (its label changed), is left alone.
func (a *Applier) prune(ctx context.Context, ref ObjectRef) error {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind))
	err := a.Client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, obj)
	switch {
	case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
		return nil
	case err != nil:
		return err
	case obj.GetLabels()[LabelAppliedBy] != a.fieldManager():
		return nil
	}
	err = a.Client.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return nil
	}
	return err
}

// inventory reads the list of what was applied.
func (a *Applier) inventory(ctx context.Context) ([]ObjectRef, error) {
	cm := &corev1.ConfigMap{}
	err := a.Client.Get(ctx, client.ObjectKey{Namespace: a.InventoryNamespace, Name: a.InventoryName}, cm)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the inventory: %w", err)
	}
	var refs []ObjectRef
	if data := cm.Data[inventoryKey]; data != "" {
		if err := json.Unmarshal([]byte(data), &refs); err != nil {
			return nil, fmt.Errorf("read the inventory ConfigMap %s/%s: %w", a.InventoryNamespace, a.InventoryName, err)
		}
	}
	return refs, nil
}

// saveInventory records the list of what was applied.
func (a *Applier) saveInventory(ctx context.Context, refs []ObjectRef) error {
	if refs == nil {
		refs = []ObjectRef{}
	}
	data, err := json.Marshal(refs)
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: a.InventoryNamespace, Name: a.InventoryName,
			Labels: map[string]string{LabelAppliedBy: a.fieldManager()},
			Annotations: map[string]string{
				"kratix.io/applies": fmt.Sprintf("%s branch %s directory %s", a.Repository, a.Branch, a.Dir),
			},
		},
		Data: map[string]string{inventoryKey: string(data)},
	}
	//nolint:staticcheck // client.Apply is server-side apply.
	if err := a.Client.Patch(ctx, cm, client.Apply, client.FieldOwner(a.fieldManager()), client.ForceOwnership); err != nil {
		return fmt.Errorf("write the inventory: %w", err)
	}
	return nil
}
