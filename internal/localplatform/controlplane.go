package localplatform

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// serviceAccountIssuer is the issuer of service-account tokens. It does not depend on the port,
// which may change between starts, so that tokens stay valid across restarts.
const serviceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

// disabledControllers are kube-controller-manager's controllers that the local platform turns
// off: the Job controller, because the local job runner runs the engine's Jobs, and those that
// only make sense with nodes, kubelets, volumes or a cloud, which would otherwise log about what
// they miss.
var disabledControllers = []string{
	"job-controller",
	"node-ipam-controller",
	"node-lifecycle-controller",
	"persistentvolume-attach-detach-controller",
	"persistentvolume-binder-controller",
	"persistentvolume-expander-controller",
	"horizontal-pod-autoscaler-controller",
	"taint-eviction-controller",
	"device-taint-eviction-controller",
	"ttl-controller",
}

// controlPlane is etcd, kube-apiserver and kube-controller-manager on loopback.
type controlPlane struct {
	bin     binaries
	dirs    layout
	pki     *pki
	apiPort int

	etcd, apiserver, controllerManager *process
	// config reaches the API server as an administrator.
	config *rest.Config
}

// startEtcd starts etcd on a free loopback port, with its data in the data directory.
//
// etcd holds every object, Secrets and RBAC included, and checks no permission: it serves TLS
// only and accepts only clients with a certificate of the etcd CA: kube-apiserver's, and its
// own for its gRPC gateway. Its peer listener, which a single member never uses, is locked the
// same way.
func (c *controlPlane) startEtcd() (etcdURL string, err error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	etcdURL = "https://127.0.0.1:" + strconv.Itoa(port)
	args := append([]string{
		"--name=kratix-local",
		"--data-dir=" + c.dirs.etcd(),
		"--listen-client-urls=" + etcdURL,
		"--advertise-client-urls=" + etcdURL,
		// No peers: any free port, as envtest does.
		"--listen-peer-urls=https://127.0.0.1:0",
		"--log-level=warn",
	}, c.etcdTLSArgs()...)
	c.etcd, err = startProcess("etcd", c.bin.etcd, args, filepath.Join(c.dirs.logs(), "etcd.log"))
	return etcdURL, err
}

// etcdTLSArgs are etcd's TLS flags: its certificate, and a client certificate of the etcd CA
// required on the client and on the peer listener.
func (c *controlPlane) etcdTLSArgs() []string {
	cert, key, ca := c.pki.cert(etcdServerName), c.pki.key(etcdServerName), c.pki.cert(etcdCAName)
	return []string{
		"--cert-file=" + cert,
		"--key-file=" + key,
		"--client-cert-auth=true",
		"--trusted-ca-file=" + ca,
		"--peer-cert-file=" + cert,
		"--peer-key-file=" + key,
		"--peer-client-cert-auth=true",
		"--peer-trusted-ca-file=" + ca,
	}
}

// startAPIServer starts kube-apiserver on 127.0.0.1 and writes the kubeconfigs that reach it.
func (c *controlPlane) startAPIServer(etcdURL string) error {
	port := c.apiPort
	if port == 0 {
		p, err := freePort()
		if err != nil {
			return err
		}
		port = p
	}
	args := []string{
		"--etcd-servers=" + etcdURL,
		"--etcd-cafile=" + c.pki.cert(etcdCAName),
		"--etcd-certfile=" + c.pki.cert(apiserverEtcdClientName),
		"--etcd-keyfile=" + c.pki.key(apiserverEtcdClientName),
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + c.dirs.controlPlane(),
		"--tls-cert-file=" + c.pki.cert(apiserverName),
		"--tls-private-key-file=" + c.pki.key(apiserverName),
		"--client-ca-file=" + c.pki.cert(caName),
		"--service-account-issuer=" + serviceAccountIssuer,
		"--service-account-key-file=" + c.pki.saPub(),
		"--service-account-signing-key-file=" + c.pki.saKey(),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--authorization-mode=RBAC",
		"--allow-privileged=true",
		"--profiling=false",
	}
	var err error
	c.apiserver, err = startProcess("kube-apiserver", c.bin.apiserver, args, filepath.Join(c.dirs.logs(), "kube-apiserver.log"))
	if err != nil {
		return err
	}
	server := "https://127.0.0.1:" + strconv.Itoa(port)
	if err := c.writeKubeconfigs(server); err != nil {
		return err
	}
	c.config, err = clientcmd.BuildConfigFromFlags("", c.dirs.kubeconfig())
	return err
}

// startControllerManager starts kube-controller-manager, its /healthz served on a free loopback
// port; it returns that port.
func (c *controlPlane) startControllerManager() (healthPort int, err error) {
	healthPort, err = freePort()
	if err != nil {
		return 0, err
	}
	controllers := "*"
	for _, name := range disabledControllers {
		controllers += ",-" + name
	}
	args := []string{
		"--kubeconfig=" + c.controllerManagerKubeconfig(),
		"--controllers=" + controllers,
		// One instance: leader election would only delay a restart until the old lease ends.
		"--leader-elect=false",
		"--use-service-account-credentials=true",
		"--service-account-private-key-file=" + c.pki.saKey(),
		"--root-ca-file=" + c.pki.cert(caName),
		"--cluster-signing-cert-file=" + c.pki.cert(caName),
		"--cluster-signing-key-file=" + c.pki.key(caName),
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(healthPort),
		"--tls-cert-file=" + c.pki.cert(controllerManagerServingName),
		"--tls-private-key-file=" + c.pki.key(controllerManagerServingName),
		"--profiling=false",
	}
	c.controllerManager, err = startProcess("kube-controller-manager", c.bin.controllerManager, args, filepath.Join(c.dirs.logs(), "kube-controller-manager.log"))
	return healthPort, err
}

func (c *controlPlane) controllerManagerKubeconfig() string {
	return filepath.Join(c.dirs.controlPlane(), "kube-controller-manager.kubeconfig")
}

// writeKubeconfigs writes the administrator's kubeconfig (the user's, the engine's and its
// adapters') and kube-controller-manager's, with the certificates embedded, so that either file
// is complete on its own.
func (c *controlPlane) writeKubeconfigs(server string) error {
	ca, err := os.ReadFile(c.pki.cert(caName))
	if err != nil {
		return err
	}
	for path, user := range map[string]string{c.dirs.kubeconfig(): adminName, c.controllerManagerKubeconfig(): controllerManagerName} {
		cfg, err := kubeconfig(server, ca, c.pki.cert(user), c.pki.key(user))
		if err != nil {
			return err
		}
		data, err := clientcmd.Write(*cfg)
		if err != nil {
			return err
		}
		if err := writeFileAtomic(path, data); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

func kubeconfig(server string, ca []byte, certFile, keyFile string) (*clientcmdapi.Config, error) {
	cert, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	const name = "kratix-local"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: "default"}
	cfg.CurrentContext = name
	return cfg, nil
}

// waitAPIServer waits until the API server's /readyz says ok.
func (c *controlPlane) waitAPIServer(ctx context.Context) error {
	client, err := rest.HTTPClientFor(c.config)
	if err != nil {
		return err
	}
	url := strings.TrimSuffix(c.config.Host, "/") + "/readyz"
	return c.poll(ctx, "kube-apiserver", func() error { return getOK(ctx, client, url) }, c.etcd, c.apiserver)
}

// waitControllerManager waits until kube-controller-manager's /healthz says ok: it then runs
// its controllers. Its serving certificate is checked against the platform's CA.
func (c *controlPlane) waitControllerManager(ctx context.Context, healthPort int) error {
	pool := x509.NewCertPool()
	pool.AddCert(c.pki.ca)
	client := &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		Timeout:   5 * time.Second,
	}
	url := "https://127.0.0.1:" + strconv.Itoa(healthPort) + "/healthz"
	return c.poll(ctx, "kube-controller-manager", func() error { return getOK(ctx, client, url) }, c.etcd, c.apiserver, c.controllerManager)
}

// poll calls check until it succeeds, failing early when one of the processes ends.
func (c *controlPlane) poll(ctx context.Context, what string, check func() error, procs ...*process) error {
	var last error
	for {
		for _, p := range procs {
			if err := p.exitError(); err != nil {
				return err
			}
		}
		if last = check(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s is not ready: %w (last: %v)", what, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// getOK says whether a GET of url answers 200 OK.
func getOK(ctx context.Context, client *http.Client, url string) error {
	_, err := requestOK(ctx, client, http.MethodGet, url, nil)
	return err
}

// requestOK sends a request and returns the body of the answer, which must be 200 OK.
func requestOK(ctx context.Context, client *http.Client, method, url string, body io.Reader) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read the answer: %w", method, url, err)
	}
	return data, nil
}

// exitError reports the first child that has ended.
func (c *controlPlane) exitError() error {
	for _, p := range []*process{c.etcd, c.apiserver, c.controllerManager} {
		if p == nil {
			continue
		}
		if err := p.exitError(); err != nil {
			return err
		}
	}
	return nil
}

// stop stops kube-controller-manager, then the API server, then etcd.
func (c *controlPlane) stop(timeout time.Duration) error {
	return errors.Join(c.controllerManager.stop(timeout), c.apiserver.stop(timeout), c.etcd.stop(timeout))
}

// freePort asks the kernel for a free port on 127.0.0.1. Another process could take it before
// the child binds it; the child then fails at once and says so.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}
