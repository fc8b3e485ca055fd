package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// countingClient counts the tokens issued through it.
type countingClient struct {
	client.Client
	tokenRequests atomic.Int64
}

func (c *countingClient) SubResource(sub string) client.SubResourceClient {
	return countingSubResource{c.Client.SubResource(sub), sub, c}
}

type countingSubResource struct {
	client.SubResourceClient
	sub string
	c   *countingClient
}

func (s countingSubResource) Create(ctx context.Context, obj client.Object, sub client.Object, opts ...client.SubResourceCreateOption) error {
	if s.sub == "token" {
		s.c.tokenRequests.Add(1)
	}
	return s.SubResourceClient.Create(ctx, obj, sub, opts...)
}

// credentialsNamespace creates a namespace with the ServiceAccounts and a Secret, and returns
// its name.
func credentialsNamespace(t *testing.T, serviceAccounts ...string) string {
	t.Helper()
	ctx := t.Context()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	ns := "credentials-" + hex.EncodeToString(b)
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "store"}, StringData: map[string]string{"password": "hunter2"}},
	}
	for _, sa := range serviceAccounts {
		objs = append(objs, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}})
	}
	for _, obj := range objs {
		// A kube-controller-manager, were one running, makes the ServiceAccount default itself.
		if err := env.Client.Create(ctx, obj); err != nil && !(apierrors.IsAlreadyExists(err) && obj.GetName() == "default") {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = env.Client.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	})
	return ns
}

func credentialsJob(ns, name, serviceAccount string) *batchv1.Job {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	job.Spec.Template.Spec.ServiceAccountName = serviceAccount
	return job
}

// asKubeconfig is a client that reaches the API server with the kubeconfig at path; it fails
// the test if the kubeconfig holds any client certificate.
func asKubeconfig(t *testing.T, path string) (client.Client, string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("%s has mode %o, want 600", path, mode)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.CertData) > 0 || len(cfg.KeyData) > 0 || cfg.CertFile != "" || cfg.KeyFile != "" || cfg.Username != "" {
		t.Errorf("the kubeconfig carries other credentials than the token")
	}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c, cfg.BearerToken
}

// whoAmI is the user name the API server sees for c.
func whoAmI(t *testing.T, c client.Client) string {
	t.Helper()
	review := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(t.Context(), review); err != nil {
		t.Fatalf("SelfSubjectReview: %v", err)
	}
	return review.Status.UserInfo.Username
}

// A Job's kubeconfig reaches the API server as the Job's Pod's ServiceAccount ("default" when it
// names none), which may not read the namespace's Secrets; it is private to its owner and holds
// no certificate of the administrator's.
func TestCredentialsAuthenticateAsTheJobsServiceAccount(t *testing.T) {
	ctx := t.Context()
	ns := credentialsNamespace(t, "pipeline", "default")
	creds := newCredentials(env.Config, env.Client)
	dir := t.TempDir()
	for _, tt := range []struct{ serviceAccount, want string }{
		{"pipeline", "system:serviceaccount:" + ns + ":pipeline"},
		{"", "system:serviceaccount:" + ns + ":default"},
	} {
		path := filepath.Join(dir, "sa-"+tt.serviceAccount, "kubeconfig")
		if err := creds.kubeconfig(ctx, credentialsJob(ns, "job", tt.serviceAccount), path); err != nil {
			t.Fatal(err)
		}
		c, _ := asKubeconfig(t, path)
		if got := whoAmI(t, c); got != tt.want {
			t.Errorf("ServiceAccount %q: authenticated as %q, want %q", tt.serviceAccount, got, tt.want)
		}
		if err := c.List(ctx, &corev1.SecretList{}, client.InNamespace(ns)); !apierrors.IsForbidden(err) {
			t.Errorf("ServiceAccount %q lists Secrets: %v, want Forbidden", tt.serviceAccount, err)
		}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "store"}, &corev1.Secret{}); !apierrors.IsForbidden(err) {
			t.Errorf("ServiceAccount %q reads Secret store: %v, want Forbidden", tt.serviceAccount, err)
		}
	}
}

// Jobs of one ServiceAccount share its token, also when they start at once; a token is renewed
// 10 minutes before it expires; another ServiceAccount has a token of its own.
func TestCredentialsReuseTokensUntilTheyNearExpiry(t *testing.T) {
	ctx := t.Context()
	ns := credentialsNamespace(t, "pipeline", "other")
	counting := &countingClient{Client: env.Client}
	creds := newCredentials(env.Config, counting)
	now := time.Now()
	creds.now = func() time.Time { return now }
	dir := t.TempDir()

	var wg sync.WaitGroup
	tokens := make([]string, 8)
	for i := range tokens {
		wg.Go(func() {
			path := filepath.Join(dir, "job-"+string(rune('a'+i)))
			if err := creds.kubeconfig(ctx, credentialsJob(ns, "job-"+string(rune('a'+i)), "pipeline"), path); err != nil {
				t.Error(err)
				return
			}
			_, tokens[i] = asKubeconfig(t, path)
		})
	}
	wg.Wait()
	if n := counting.tokenRequests.Load(); n != 1 {
		t.Errorf("%d TokenRequests for 8 Jobs of one ServiceAccount, want 1", n)
	}
	for i, token := range tokens {
		if token == "" || token != tokens[0] {
			t.Errorf("Job %d was given another token than Job 0", i)
		}
	}

	// Nearly 50 minutes later the token still serves; past 50 minutes a new one is issued.
	kubeconfigAt := func(after time.Duration, serviceAccount string) string {
		t.Helper()
		now = time.Now().Add(after)
		path := filepath.Join(dir, "later")
		if err := creds.kubeconfig(ctx, credentialsJob(ns, "later", serviceAccount), path); err != nil {
			t.Fatal(err)
		}
		_, token := asKubeconfig(t, path)
		return token
	}
	if token := kubeconfigAt(45*time.Minute, "pipeline"); token != tokens[0] || counting.tokenRequests.Load() != 1 {
		t.Errorf("45 minutes on: a new token (%d TokenRequests), want the cached one", counting.tokenRequests.Load())
	}
	if token := kubeconfigAt(51*time.Minute, "pipeline"); token == tokens[0] || counting.tokenRequests.Load() != 2 {
		t.Errorf("51 minutes on: the same token (%d TokenRequests), want a new one", counting.tokenRequests.Load())
	}
	if token := kubeconfigAt(51*time.Minute, "other"); token == tokens[0] || counting.tokenRequests.Load() != 3 {
		t.Errorf("another ServiceAccount: %d TokenRequests, want a token of its own", counting.tokenRequests.Load())
	}
}

// A Job whose ServiceAccount does not exist gets no kubeconfig and an error naming the
// ServiceAccount.
func TestCredentialsOfAMissingServiceAccount(t *testing.T) {
	ns := credentialsNamespace(t)
	creds := newCredentials(env.Config, env.Client)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	err := creds.kubeconfig(t.Context(), credentialsJob(ns, "job", "missing"), path)
	if err == nil || !strings.Contains(err.Error(), ns+"/missing does not exist") {
		t.Fatalf("error %v, want one naming ServiceAccount %s/missing", err, ns)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a kubeconfig was written: %v", err)
	}
}
