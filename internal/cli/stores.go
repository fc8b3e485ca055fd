package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/controllers/writers"
	"kratix.dev/kratix/statestore"
	"kratix.dev/kratix/statestore/git"
	"kratix.dev/kratix/statestore/s3"
)

// store is a state store opened for reading, with the credentials of its Secret: a Git store's
// whole history, or a bucket.
type store struct {
	// ref is Kind/name, e.g. GitStateStore/default.
	ref string
	// url is where it is, without credentials.
	url string
	// root is the store's spec.path.
	root    string
	history *git.History // a Git store
	bucket  *s3.Writer   // a bucket, read only
}

// stores opens each store once.
type stores struct {
	s      *session
	opened map[string]*store
	failed map[string]error
}

func newStores(s *session) *stores {
	return &stores{s: s, opened: map[string]*store{}, failed: map[string]error{}}
}

// open returns the store a Destination names; the error says which store could not be read
// and why, never with its credentials.
func (ss *stores) open(ctx context.Context, ref v1alpha1.StateStoreReference) (*store, error) {
	key := ref.Kind + "/" + ref.Name
	if st, ok := ss.opened[key]; ok {
		return st, nil
	}
	if err, ok := ss.failed[key]; ok {
		return nil, err
	}
	st, err := ss.openStore(ctx, ref)
	if err != nil {
		ss.failed[key] = err
		return nil, err
	}
	ss.opened[key] = st
	return st, nil
}

func (ss *stores) openStore(ctx context.Context, ref v1alpha1.StateStoreReference) (*store, error) {
	key := ref.Kind + "/" + ref.Name
	switch ref.Kind {
	case v1alpha1.KindGitStateStore:
		gs := &v1alpha1.GitStateStore{}
		if err := ss.s.get(ctx, fmt.Sprintf("gitstatestore %q", ref.Name), client.ObjectKey{Name: ref.Name}, gs); err != nil {
			return nil, err
		}
		url := statestore.RedactURL(gs.Spec.URL)
		secret, err := ss.secret(ctx, key, gs.Spec.SecretRef)
		if err != nil {
			return nil, err
		}
		h, err := git.OpenHistory(ctx, writers.GitOptions(gs, secret, logr.Discard()))
		if err != nil {
			return nil, fmt.Errorf("read %s (%s, branch %s): %w", key, url, branchOf(gs), redacted(err))
		}
		return &store{ref: key, url: url, root: cleanRoot(gs.Spec.Path), history: h}, nil
	case v1alpha1.KindBucketStateStore:
		bs := &v1alpha1.BucketStateStore{}
		if err := ss.s.get(ctx, fmt.Sprintf("bucketstatestore %q", ref.Name), client.ObjectKey{Name: ref.Name}, bs); err != nil {
			return nil, err
		}
		url := statestore.RedactURL(bs.Spec.Endpoint) + "/" + bs.Spec.BucketName
		secret, err := ss.secret(ctx, key, bs.Spec.SecretRef)
		if err != nil {
			return nil, err
		}
		w, err := s3.New(writers.S3Options(bs, secret, logr.Discard()))
		if err != nil {
			return nil, fmt.Errorf("read %s (%s): %w", key, url, redacted(err))
		}
		return &store{ref: key, url: url, root: cleanRoot(bs.Spec.Path), bucket: w}, nil
	}
	return nil, fmt.Errorf("state store kind %q is neither GitStateStore nor BucketStateStore", ref.Kind)
}

// secret reads the data of a store's Secret; nil when it names none.
func (ss *stores) secret(ctx context.Context, store string, ref *v1alpha1.SecretRef) (map[string][]byte, error) {
	if ref == nil {
		return nil, nil
	}
	ns := ref.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	secret := &corev1.Secret{}
	if err := ss.s.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, secret); err != nil {
		return nil, fmt.Errorf("read the credentials of %s, Secret %s/%s: %w", store, ns, ref.Name, apiError(ss.s.server, err))
	}
	return secret.Data, nil
}

// close releases what the stores hold.
func (ss *stores) close() error {
	var errs []error
	for _, st := range ss.opened {
		if st.bucket != nil {
			errs = append(errs, st.bucket.Close())
		}
	}
	return errors.Join(errs...)
}

func branchOf(gs *v1alpha1.GitStateStore) string {
	if gs.Spec.Branch == "" {
		return v1alpha1.DefaultBranch
	}
	return gs.Spec.Branch
}

// redacted is err with the userinfo of any URL in its text removed. statestore errors are
// already; this covers the rest.
func redacted(err error) error {
	return errors.New(statestore.RedactURLsIn(err.Error()))
}

// rooted is a path relative to a store's root as a path in its repository or bucket.
func (st *store) rooted(p string) string {
	if st.root == "" {
		return p
	}
	return st.root + "/" + p
}

// cleanRoot is a store's spec.path as its writer has it ("" for none).
func cleanRoot(p string) string {
	if p == "" {
		return ""
	}
	clean, err := statestore.CleanPath(p)
	if err != nil {
		return p // the writer refuses such a store; its files are shown under the path as written
	}
	return clean
}
