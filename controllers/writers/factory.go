package writers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/metrics"
	"kratix.dev/kratix/statestore"
	"kratix.dev/kratix/statestore/git"
	"kratix.dev/kratix/statestore/s3"
)

// Key names one state store.
type Key struct {
	// Kind is v1alpha1.KindGitStateStore or v1alpha1.KindBucketStateStore.
	Kind string
	// Name of the (cluster-scoped) store.
	Name string
}

func (k Key) String() string { return k.Kind + "/" + k.Name }

// KeyOf returns the key of a *GitStateStore or *BucketStateStore.
func KeyOf(store client.Object) (Key, error) {
	switch store.(type) {
	case *v1alpha1.GitStateStore:
		return Key{Kind: v1alpha1.KindGitStateStore, Name: store.GetName()}, nil
	case *v1alpha1.BucketStateStore:
		return Key{Kind: v1alpha1.KindBucketStateStore, Name: store.GetName()}, nil
	default:
		return Key{}, fmt.Errorf("%T is not a state store", store)
	}
}

// Factory builds writers. The Registry calls it only when a store has no writer yet or its spec
// or Secret changed.
type Factory interface {
	// New builds a writer for store, a *GitStateStore or *BucketStateStore, from its spec and the
	// data of its Secret (nil when the store names none). It does not contact the store.
	New(store client.Object, secret map[string][]byte) (statestore.Writer, error)
}

// DefaultFactory builds the Git (go-git) and S3 (minio-go) writers of the statestore packages.
type DefaultFactory struct {
	// Logger receives the writers' logs; the zero value discards them.
	Logger logr.Logger
	// GitHeadCheckInterval is how often an idle Git writer checks that its branch is as it
	// left it (git.Options.HeadCheckInterval); the writer's default when zero.
	GitHeadCheckInterval time.Duration
}

var _ Factory = DefaultFactory{}

// New implements Factory.
func (f DefaultFactory) New(store client.Object, secret map[string][]byte) (statestore.Writer, error) {
	switch s := store.(type) {
	case *v1alpha1.GitStateStore:
		opts := GitOptions(s, secret, f.Logger.WithValues("gitStateStore", s.Name))
		opts.HeadCheckInterval = f.GitHeadCheckInterval
		name := s.Name
		opts.OnCommit = func(changes int) { metrics.ObserveCommit(v1alpha1.KindGitStateStore, name, changes) }
		w, err := git.New(opts)
		if err != nil {
			return nil, err
		}
		return w, nil
	case *v1alpha1.BucketStateStore:
		w, err := s3.New(S3Options(s, secret, f.Logger.WithValues("bucketStateStore", s.Name)))
		if err != nil {
			return nil, err
		}
		return w, nil
	default:
		return nil, fmt.Errorf("%T is not a state store", store)
	}
}

// GitOptions are the Git writer's options for a GitStateStore and the data of its Secret.
func GitOptions(store *v1alpha1.GitStateStore, secret map[string][]byte, log logr.Logger) git.Options {
	opts := git.Options{
		URL:      store.Spec.URL,
		Branch:   store.Spec.Branch,
		Root:     store.Spec.Path,
		CABundle: secret[v1alpha1.SecretKeyCACert],
		Insecure: store.Spec.Insecure,
		Author:   git.Author{Name: store.Spec.GitAuthor.Name, Email: store.Spec.GitAuthor.Email},
		Logger:   log,
	}
	switch store.Spec.AuthMethod {
	case v1alpha1.AuthMethodSSH:
		opts.Auth.SSHPrivateKey = secret[v1alpha1.SecretKeySSHPrivateKey]
		opts.Auth.SSHKnownHosts = secret[v1alpha1.SecretKeyKnownHosts]
	case v1alpha1.AuthMethodGitHubApp:
		// Upstream's keys; apiURL (GitHub Enterprise Server's API) is this engine's addition.
		opts.Auth.GitHubApp = &git.GitHubApp{
			AppID:          string(secret[v1alpha1.SecretKeyAppID]),
			InstallationID: string(secret[v1alpha1.SecretKeyInstallationID]),
			PrivateKey:     secret[v1alpha1.SecretKeyPrivateKey],
			APIURL:         string(secret[v1alpha1.SecretKeyAPIURL]),
		}
	default:
		opts.Auth.Username = string(secret[v1alpha1.SecretKeyUsername])
		opts.Auth.Password = string(secret[v1alpha1.SecretKeyPassword])
	}
	return opts
}

// S3Options are the S3 writer's options for a BucketStateStore and the data of its Secret.
func S3Options(store *v1alpha1.BucketStateStore, secret map[string][]byte, log logr.Logger) s3.Options {
	opts := s3.Options{
		Endpoint: store.Spec.Endpoint,
		Bucket:   store.Spec.BucketName,
		Root:     store.Spec.Path,
		Insecure: store.Spec.Insecure,
		CABundle: secret[v1alpha1.SecretKeyCACert],
		Logger:   log,
		// Upstream's useDualStack, passed on to minio-go.
		UseDualStack: store.Spec.UseDualStack,
	}
	if store.Spec.AuthMethod == v1alpha1.AuthMethodIAM {
		opts.UseIAM = true
	} else {
		opts.AccessKeyID = string(secret[v1alpha1.SecretKeyAccessKeyID])
		opts.SecretAccessKey = string(secret[v1alpha1.SecretKeySecretAccessKey])
	}
	return opts
}

// fingerprint identifies what a writer was built from: the store's kind and spec and its Secret's
// data. It is a digest, so the Registry never holds the credentials themselves beyond the writer.
func fingerprint(store client.Object, secret map[string][]byte) (string, error) {
	var spec any
	switch s := store.(type) {
	case *v1alpha1.GitStateStore:
		spec = s.Spec
	case *v1alpha1.BucketStateStore:
		spec = s.Spec
	default:
		return "", fmt.Errorf("%T is not a state store", store)
	}
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return "", fmt.Errorf("encode the spec of %s: %w", store.GetName(), err)
	}
	h := sha256.New()
	writeField(h, fmt.Sprintf("%T", store))
	writeField(h, string(specJSON))
	keys := make([]string, 0, len(secret))
	for k := range secret {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		writeField(h, k)
		writeField(h, string(secret[k]))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeField writes a length-prefixed field, so that no two different inputs hash alike.
func writeField(h interface{ Write([]byte) (int, error) }, s string) {
	_, _ = h.Write([]byte(strconv.Itoa(len(s)) + ":" + s)) // a hash.Hash never fails to write
}
