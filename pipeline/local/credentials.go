package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"kratix.dev/kratix/internal/atomicfile"

	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	// tokenLifetime is what the credentials ask the TokenRequest API for: as long as a
	// kubelet's projected ServiceAccount tokens last.
	tokenLifetime = time.Hour
	// tokenRenewBefore is how long before its expiry a cached token is replaced, so that a
	// container given it has this long to run with it.
	tokenRenewBefore = 10 * time.Minute
)

// credentials give the engine's containers of a Job, which the local job runner runs as host
// processes, the identity that a kubelet would give the Job's Pod: a kubeconfig with a token of
// the Pod's ServiceAccount, issued by the TokenRequest API. So the adapter can do what the
// engine granted the pipeline's ServiceAccount and no more, as in a cluster. Tokens are cached
// per ServiceAccount until tokenRenewBefore before they expire; many Jobs run at once, and Jobs
// of one ServiceAccount share one token. A credentials is safe for concurrent use.
type credentials struct {
	// cfg is where the API server is and how to trust it; none of its credentials are passed on.
	cfg *rest.Config
	// client issues tokens: it may create serviceaccounts/token in the Jobs' namespaces.
	client client.Client
	// now is the clock; tests move it.
	now func() time.Time

	mu     sync.Mutex
	tokens map[types.NamespacedName]*cachedToken
}

// cachedToken is the token of one ServiceAccount. Its lock is held while a token is issued, so
// that Jobs starting at once with the same ServiceAccount ask for one token between them.
type cachedToken struct {
	mu      sync.Mutex
	token   string
	renewAt time.Time
}

// newCredentials issues tokens with c and writes kubeconfigs that reach the API server of cfg.
func newCredentials(cfg *rest.Config, c client.Client) *credentials {
	return &credentials{cfg: cfg, client: c, now: time.Now, tokens: map[types.NamespacedName]*cachedToken{}}
}

// jobServiceAccount is the ServiceAccount that the Job's Pod runs as, as Kubernetes defaults it.
func jobServiceAccount(job *batchv1.Job) types.NamespacedName {
	name := job.Spec.Template.Spec.ServiceAccountName
	if name == "" {
		name = "default"
	}
	return types.NamespacedName{Namespace: job.Namespace, Name: name}
}

// kubeconfig writes to path (mode 0600, replacing any file there) a kubeconfig that reaches the
// API server as the ServiceAccount of the Job's Pod. Its errors never hold the token.
func (c *credentials) kubeconfig(ctx context.Context, job *batchv1.Job, path string) error {
	cfg, err := c.restConfig(ctx, job)
	if err != nil {
		return err
	}
	return writeKubeconfig(path, cfg, job)
}

// restConfig reaches the API server as the ServiceAccount of the Job's Pod: the address and CA
// of the runner's configuration and the ServiceAccount's token, nothing of the runner's own
// identity. Configurations that differ only in their token share client-go's connections to
// the API server. Its errors never hold the token.
func (c *credentials) restConfig(ctx context.Context, job *batchv1.Job) (*rest.Config, error) {
	sa := jobServiceAccount(job)
	token, err := c.token(ctx, sa)
	if err != nil {
		return nil, fmt.Errorf("a token of ServiceAccount %s for Job %s: %w", sa, job.Name, err)
	}
	return &rest.Config{
		Host:        c.cfg.Host,
		APIPath:     c.cfg.APIPath,
		BearerToken: token,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: c.cfg.CAData, CAFile: c.cfg.CAFile, ServerName: c.cfg.ServerName, Insecure: c.cfg.Insecure,
		},
	}, nil
}

// writeKubeconfig writes cfg, a restConfig of the Job's ServiceAccount, to path as a kubeconfig
// (mode 0600, replacing any file there). Its errors never hold the token.
func writeKubeconfig(path string, cfg *rest.Config, job *batchv1.Job) error {
	sa := jobServiceAccount(job)
	cluster := &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.CAData,
		TLSServerName:            cfg.ServerName,
		InsecureSkipTLSVerify:    cfg.Insecure,
	}
	if len(cluster.CertificateAuthorityData) == 0 && cfg.CAFile != "" {
		var err error
		if cluster.CertificateAuthorityData, err = os.ReadFile(cfg.CAFile); err != nil {
			return fmt.Errorf("the API server's CA: %w", err)
		}
	}
	user := "system:serviceaccount:" + sa.Namespace + ":" + sa.Name
	const name = "kratix-pipeline"
	data, err := clientcmd.Write(clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{name: cluster},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{user: {Token: cfg.BearerToken}},
		Contexts:       map[string]*clientcmdapi.Context{name: {Cluster: name, AuthInfo: user, Namespace: sa.Namespace}},
		CurrentContext: name,
	})
	if err != nil {
		return fmt.Errorf("the kubeconfig of ServiceAccount %s: %w", sa, err)
	}
	return writePrivate(path, data)
}

// token returns a token of the ServiceAccount, cached or newly issued.
func (c *credentials) token(ctx context.Context, sa types.NamespacedName) (string, error) {
	c.mu.Lock()
	t := c.tokens[sa]
	if t == nil {
		t = &cachedToken{}
		c.tokens[sa] = t
	}
	c.mu.Unlock()

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && c.now().Before(t.renewAt) {
		return t.token, nil
	}
	seconds := int64(tokenLifetime / time.Second)
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds}}
	account := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: sa.Namespace, Name: sa.Name}}
	issued := c.now()
	if err := c.client.SubResource("token").Create(ctx, account, req); err != nil {
		if apierrors.IsNotFound(err) {
			return "", fmt.Errorf("ServiceAccount %s does not exist", sa)
		}
		return "", fmt.Errorf("TokenRequest: %w", err)
	}
	if req.Status.Token == "" {
		return "", fmt.Errorf("TokenRequest for ServiceAccount %s returned no token", sa)
	}
	expires := req.Status.ExpirationTimestamp.Time
	if expires.IsZero() {
		expires = issued.Add(tokenLifetime)
	}
	t.token, t.renewAt = req.Status.Token, expires.Add(-tokenRenewBefore)
	return t.token, nil
}

// writePrivate writes data to path, readable by this user only, replacing the file there at
// once: a container starting meanwhile reads the old kubeconfig or the new one, whole.
func writePrivate(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}
