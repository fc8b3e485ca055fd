package controllers

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/statestore"
)

// storeTarget is where a state store writes: location names the repository and branch, or the
// bucket, the same for every store that writes there however its spec spells it; root is the
// store's spec.path inside it.
type storeTarget struct {
	location string
	root     string
}

// place is the Destination in the store's target.
func (t storeTarget) place(dest *v1alpha1.Destination) placedDestination {
	// A Destination at the store's root ("/" or ".") has the store's root for its directory,
	// "" when that is the top of the repository or bucket, which overlaps every other.
	dir := strings.Trim(t.root, "/")
	if !statestore.IsRoot(dest.Spec.Path) {
		dir = statestore.Under(dir, strings.TrimSuffix(dest.Spec.Path, "/"))
	}
	return placedDestination{dest: dest, location: t.location, dir: dir}
}

// targetOf is the target of a GitStateStore or BucketStateStore.
func targetOf(store client.Object) storeTarget {
	switch s := store.(type) {
	case *v1alpha1.GitStateStore:
		branch := s.Spec.Branch
		if branch == "" {
			branch = v1alpha1.DefaultBranch
		}
		return storeTarget{location: "git " + repositoryOf(s.Spec.URL) + " " + branch, root: s.Spec.Path}
	case *v1alpha1.BucketStateStore:
		return storeTarget{location: "s3 " + strings.ToLower(strings.TrimSuffix(s.Spec.Endpoint, "/")) + " " + s.Spec.BucketName, root: s.Spec.Path}
	default:
		return storeTarget{location: fmt.Sprintf("%T %s", store, store.GetName())}
	}
}

// repositoryOf names a Git repository the same whichever URL form reaches it: host (lower
// case) and path, without scheme, userinfo, trailing slash or .git. https://github.com/org/repo,
// ssh://git@github.com/org/repo.git and git@github.com:org/repo are one repository.
func repositoryOf(raw string) string {
	// RedactURL drops the userinfo of every form, a password holding an @ included.
	s := statestore.RedactURL(strings.TrimSpace(raw))
	var host, path string
	if u, err := url.Parse(s); err == nil && strings.Contains(s, "://") {
		host, path = u.Host, u.Path
		if u.Scheme == "file" {
			host = ""
		}
	} else if h, p, ok := strings.Cut(s, ":"); ok && h != "" && !strings.Contains(h, "/") {
		host, path = h, p // scp-like: host:path
	} else {
		path = s
	}
	path = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
	return strings.ToLower(host) + "/" + strings.TrimSuffix(path, "/")
}

// targetOfStore reads the store that ref names from the cache and returns its target; a store
// that does not exist has a location of its own.
func targetOfStore(ctx context.Context, c client.Reader, ref v1alpha1.StateStoreReference) (storeTarget, error) {
	kind, ok := storeKinds[ref.Kind]
	if !ok {
		return storeTarget{location: "unknown " + ref.Kind + " " + ref.Name}, nil
	}
	obj := kind.newObject()
	if err := c.Get(ctx, client.ObjectKey{Name: ref.Name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return storeTarget{location: "missing " + ref.Kind + " " + ref.Name}, nil
		}
		return storeTarget{}, fmt.Errorf("get %s %s: %w", ref.Kind, ref.Name, err)
	}
	return targetOf(obj), nil
}

// storesAt returns the stores, of both kinds, whose location is the given one, with their
// targets, through the index of their locations.
func storesAt(ctx context.Context, c client.Reader, location string) (map[v1alpha1.StateStoreReference]storeTarget, error) {
	out := map[v1alpha1.StateStoreReference]storeTarget{}
	at := client.MatchingFields{indexStoreLocation: location}
	var gits v1alpha1.GitStateStoreList
	if err := c.List(ctx, &gits, at, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list the GitStateStores at %s: %w", location, err)
	}
	for i := range gits.Items {
		out[v1alpha1.StateStoreReference{Kind: v1alpha1.KindGitStateStore, Name: gits.Items[i].Name}] = targetOf(&gits.Items[i])
	}
	var buckets v1alpha1.BucketStateStoreList
	if err := c.List(ctx, &buckets, at, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list the BucketStateStores at %s: %w", location, err)
	}
	for i := range buckets.Items {
		out[v1alpha1.StateStoreReference{Kind: v1alpha1.KindBucketStateStore, Name: buckets.Items[i].Name}] = targetOf(&buckets.Items[i])
	}
	return out, nil
}
