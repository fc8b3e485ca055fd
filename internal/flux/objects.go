package flux

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Names of the objects DestinationObjects builds, as the README shows them.
const (
	SourceName                = "kratix"
	SecretName                = "kratix-state-store"
	DependenciesKustomization = "kratix-dependencies"
	ResourcesKustomization    = "kratix-resources"
	SourceAPIVersion          = "source.toolkit.fluxcd.io/v1"
	KustomizationAPIVersion   = "kustomize.toolkit.fluxcd.io/v1"
	KindGitRepository         = "GitRepository"
	KindBucket                = "Bucket"
	KindKustomization         = "Kustomization"
)

const (
	defaultInterval  = time.Minute
	defaultGitBranch = "main"
	fieldOwner       = client.FieldOwner("kratix-flux")
)

// GitSource is a Git state store as Flux reaches it: a GitRepository with basic auth.
type GitSource struct {
	URL string
	// Branch is main when empty.
	Branch             string
	Username, Password string
	// CAPEM is the PEM bundle of the server's CA, for a private CA over https.
	CAPEM []byte
}

// BucketSource is a bucket state store as Flux reaches it: a Bucket (provider generic) with an
// access key.
type BucketSource struct {
	// Endpoint is host[:port], without a scheme.
	Endpoint   string
	BucketName string
	// Insecure talks plain HTTP.
	Insecure             bool
	AccessKey, SecretKey string
	// Prefix is the store's path inside the bucket, if any.
	Prefix string
}

// Destination says what DestinationObjects builds: the source (Git or Bucket, one of them), the
// Destination's directory in it (its path in the store, the store's own path included), and how
// often Flux looks.
type Destination struct {
	Git    *GitSource
	Bucket *BucketSource
	// Path is the Destination's directory in the repository or bucket, e.g. dev-cluster-1.
	Path string
	// Interval is how often the source and the Kustomizations reconcile; one minute when zero.
	Interval time.Duration
}

// DestinationObjects are the objects that make a cluster's Flux apply one Destination: a Secret
// with the credentials, a GitRepository or Bucket `kratix`, and the Kustomizations
// `kratix-dependencies` (<path>/dependencies) and `kratix-resources` (<path>/resources), which
// depends on the first; both prune what leaves the directory. All live in flux-system.
func DestinationObjects(d Destination) ([]*unstructured.Unstructured, error) {
	interval := d.Interval
	if interval <= 0 {
		interval = defaultInterval
	}
	every := interval.String()
	secret := object("v1", "Secret", SecretName)
	secret.Object["type"] = "Opaque"
	var source *unstructured.Unstructured
	switch {
	case d.Git != nil && d.Bucket == nil:
		g := d.Git
		branch := g.Branch
		if branch == "" {
			branch = defaultGitBranch
		}
		data := map[string]any{"username": g.Username, "password": g.Password}
		if len(g.CAPEM) > 0 {
			data["ca.crt"] = string(g.CAPEM)
		}
		secret.Object["stringData"] = data
		source = object(SourceAPIVersion, KindGitRepository, SourceName)
		source.Object["spec"] = map[string]any{
			"url":       g.URL,
			"ref":       map[string]any{"branch": branch},
			"interval":  every,
			"timeout":   "30s",
			"secretRef": map[string]any{"name": SecretName},
			"ignore":    OnlyDirectory(d.Path),
		}
	case d.Bucket != nil && d.Git == nil:
		b := d.Bucket
		secret.Object["stringData"] = map[string]any{"accesskey": b.AccessKey, "secretkey": b.SecretKey}
		source = object(SourceAPIVersion, KindBucket, SourceName)
		spec := map[string]any{
			"provider":   "generic",
			"bucketName": b.BucketName,
			"endpoint":   b.Endpoint,
			"insecure":   b.Insecure,
			"interval":   every,
			"timeout":    "30s",
			"secretRef":  map[string]any{"name": SecretName},
		}
		if b.Prefix != "" {
			spec["prefix"] = strings.Trim(b.Prefix, "/") + "/"
		}
		source.Object["spec"] = spec
	default:
		return nil, fmt.Errorf("flux: a Destination needs a Git source or a Bucket source, not both")
	}
	dir := path.Clean("/" + d.Path)
	kustomization := func(name, sub string) *unstructured.Unstructured {
		k := object(KustomizationAPIVersion, KindKustomization, name)
		k.Object["spec"] = map[string]any{
			"sourceRef":     map[string]any{"kind": source.GetKind(), "name": SourceName},
			"path":          "." + path.Join(dir, sub),
			"interval":      every,
			"retryInterval": every,
			"timeout":       "1m",
			"prune":         true,
		}
		return k
	}
	deps := kustomization(DependenciesKustomization, "dependencies")
	res := kustomization(ResourcesKustomization, "resources")
	res.Object["spec"].(map[string]any)["dependsOn"] = []any{map[string]any{"name": DependenciesKustomization}}
	return []*unstructured.Unstructured{secret, source, deps, res}, nil
}

// OnlyDirectory is a GitRepository's spec.ignore (.gitignore rules) that leaves only dir, e.g.
// "clusters/dev-cluster-1", in the artifact: a cluster's source-controller holds, and serves to
// whoever reaches its artifact server, its own Destination's files, not every Destination's.
func OnlyDirectory(dir string) string {
	var b strings.Builder
	prefix := "/"
	for _, part := range strings.Split(strings.Trim(path.Clean("/"+dir), "/"), "/") {
		if part == "" {
			return ""
		}
		fmt.Fprintf(&b, "%s*\n!%s%s/\n", prefix, prefix, part)
		prefix += part + "/"
	}
	return b.String()
}

func object(apiVersion, kind, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetName(name)
	u.SetNamespace(Namespace)
	return u
}

// Apply applies objects with server-side apply.
func Apply(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error {
	for _, obj := range objs {
		if err := c.Patch(ctx, obj.DeepCopy(), client.Apply, fieldOwner, client.ForceOwnership); err != nil {
			return fmt.Errorf("apply %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
		}
	}
	return nil
}

// Ready reports whether the Flux object's Ready condition is True for its current generation,
// and otherwise what its Ready condition says.
func Ready(ctx context.Context, c client.Client, apiVersion, kind, name string) (bool, string, error) {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	if err := c.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: name}, u); err != nil {
		return false, "", err
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	for _, raw := range conds {
		cond, ok := raw.(map[string]any)
		if !ok || cond["type"] != "Ready" {
			continue
		}
		msg := fmt.Sprintf("%v: %v", cond["reason"], cond["message"])
		return cond["status"] == "True" && observed == u.GetGeneration(), msg, nil
	}
	return false, "no Ready condition yet", nil
}
