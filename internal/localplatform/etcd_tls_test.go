package localplatform

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"kratix.dev/kratix/internal/testenv"
)

// etcd keeps every object, Secrets included, and checks no permission of its own: a plain HTTP
// client and TLS clients without a certificate of the etcd CA (none at all, or the
// administrator's, of the platform's CA) are refused before they can read a Secret, while
// kube-apiserver, with its certificate, stores and reads it.
func TestEtcdRefusesClientsWithoutCertificate(t *testing.T) {
	plane, etcdURL := startEtcdAndAPIServer(t)
	ctx := testenv.Context(t)
	clientset, err := kubernetes.NewForConfig(plane.config)
	if err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "etcd-probe", Namespace: "default"},
		StringData: map[string]string{"password": "not for pipelines"},
	}
	if _, err := clientset.CoreV1().Secrets(secret.Namespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatalf("kube-apiserver cannot store a Secret in etcd: %v", err)
	}
	key := "/registry/secrets/default/etcd-probe"

	checkPlainHTTPRefused(ctx, t, etcdURL, key)
	for _, c := range []struct{ what, cert, alert string }{
		{"no certificate", "", "certificate required"},
		{"the administrator's certificate", adminName, "unknown certificate authority"},
	} {
		values, err := etcdRange(ctx, etcdClient(t, plane.pki, c.cert), etcdURL, key)
		if !refused(err, c.alert) {
			t.Errorf("a TLS client with %s read %d values of %s (error %v); want the handshake refused: %s", c.what, len(values), key, err, c.alert)
		}
		t.Logf("a TLS client with %s: %v", c.what, err)
	}
	values, err := etcdRange(ctx, etcdClient(t, plane.pki, apiserverEtcdClientName), etcdURL, key)
	if err != nil || len(values) != 1 {
		t.Errorf("kube-apiserver's certificate read %d values of %s (error %v), want 1", len(values), key, err)
	}
}

// A data directory of the version whose etcd served plain HTTP (a PKI without etcd's
// certificates, etcd data written over HTTP) starts again: the PKI gains what it lacks, and etcd
// serves the old data, over TLS only.
func TestOldDataDirRestartsWithTLS(t *testing.T) {
	dirs := layout{root: t.TempDir()}
	plane := newTestControlPlane(t, dirs)
	removeEtcdPKI(t, plane.pki)
	const key, value = "/kratix-test/old", "written over plain HTTP"
	putOverPlainHTTP(t, plane, key, value)

	p, err := ensurePKI(dirs.pki())
	if err != nil {
		t.Fatal(err)
	}
	plane.pki = p
	etcdURL, err := plane.startEtcd()
	if err != nil {
		t.Fatal(err)
	}
	ctx := testenv.Context(t)
	client := etcdClient(t, p, apiserverEtcdClientName)
	testenv.Eventually(t, "etcd serves the old data over TLS", 30*time.Second, 100*time.Millisecond, func() error {
		values, err := etcdRange(ctx, client, etcdURL, key)
		if err != nil {
			return err
		}
		if len(values) != 1 || string(values[0]) != value {
			return fmt.Errorf("%s holds %q, want %q", key, values, value)
		}
		return nil
	})
	checkPlainHTTPRefused(ctx, t, etcdURL, key)
}

// startEtcdAndAPIServer starts etcd and kube-apiserver on a new data directory and waits until
// the API server is ready. It returns the control plane and etcd's client URL.
func startEtcdAndAPIServer(t *testing.T) (*controlPlane, string) {
	t.Helper()
	plane := newTestControlPlane(t, layout{root: t.TempDir()})
	etcdURL, err := plane.startEtcd()
	if err != nil {
		t.Fatal(err)
	}
	if err := plane.startAPIServer(etcdURL); err != nil {
		t.Fatal(err)
	}
	if err := plane.waitAPIServer(testenv.Context(t)); err != nil {
		t.Fatal(err)
	}
	return plane, etcdURL
}

// newTestControlPlane is a control plane on dirs, with its PKI, that runs testenv's etcd and
// kube-apiserver. The end of the test stops what it started and, after a failure, shows the
// end of each log.
func newTestControlPlane(t *testing.T, dirs layout) *controlPlane {
	t.Helper()
	assets, err := testenv.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := dirs.create(); err != nil {
		t.Fatal(err)
	}
	p, err := ensurePKI(dirs.pki())
	if err != nil {
		t.Fatal(err)
	}
	bin := binaries{etcd: filepath.Join(assets, "etcd"), apiserver: filepath.Join(assets, "kube-apiserver")}
	plane := &controlPlane{bin: bin, dirs: dirs, pki: p}
	t.Cleanup(func() {
		if err := plane.stop(30 * time.Second); err != nil {
			t.Errorf("stop the control plane: %v", err)
		}
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(dirs.logs(), "*.log")) // the pattern is valid
			for _, log := range logs {
				t.Logf("the end of %s:\n%s", log, logTail(log, 30))
			}
		}
	})
	return plane
}

// putOverPlainHTTP runs etcd on the plane's data directory as the version before TLS did, on
// plain HTTP, stores value at key and stops it.
func putOverPlainHTTP(t *testing.T, plane *controlPlane, key, value string) {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(port)
	args := []string{
		"--name=kratix-local",
		"--data-dir=" + plane.dirs.etcd(),
		"--listen-client-urls=" + etcdURL,
		"--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=http://127.0.0.1:0",
		"--log-level=warn",
	}
	old, err := startProcess("etcd on plain HTTP", plane.bin.etcd, args, filepath.Join(plane.dirs.logs(), "etcd-plain-http.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := old.stop(30 * time.Second); err != nil {
			t.Errorf("stop etcd on plain HTTP: %v", err)
		}
	}()
	ctx, client := testenv.Context(t), httpClient(t, nil)
	put := map[string][]byte{"key": []byte(key), "value": []byte(value)}
	testenv.Eventually(t, "etcd on plain HTTP stores "+key, 30*time.Second, 100*time.Millisecond, func() error {
		return etcdPost(ctx, client, etcdURL+"/v3/kv/put", put, nil)
	})
}

// checkPlainHTTPRefused fails the test if a plain HTTP client reads key at etcd's address.
func checkPlainHTTPRefused(ctx context.Context, t *testing.T, etcdURL, key string) {
	t.Helper()
	u, err := url.Parse(etcdURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Scheme = "http"
	values, err := etcdRange(ctx, httpClient(t, nil), u.String(), key)
	if err == nil {
		t.Errorf("a plain HTTP client read %d values of %s at %s", len(values), key, u)
	}
	t.Logf("a plain HTTP client: %v", err)
}

// refused reports whether err is etcd refusing a TLS client: the alert, or, when etcd closed
// the connection before the client read the alert (TLS 1.3 lets the client send its request
// before the server has checked its certificate), the connection closed under the request.
func refused(err error, alert string) bool {
	if err == nil {
		return false
	}
	for _, s := range []string{"remote error: tls: " + alert, "use of closed network connection", "connection reset by peer", "EOF"} {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

// etcdClient is an HTTPS client that trusts the etcd CA and presents the PKI's certificate
// name, whatever CAs etcd asks for, or none when name is empty. It speaks TLS 1.3, in which etcd
// refuses a client's certificate with an alert that the client reads as the answer to its
// request.
func etcdClient(t *testing.T, p *pki, name string) *http.Client {
	t.Helper()
	caPEM, err := os.ReadFile(p.cert(etcdCAName))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s holds no certificate", p.cert(etcdCAName))
	}
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13}
	if name != "" {
		pair, err := tls.LoadX509KeyPair(p.cert(name), p.key(name))
		if err != nil {
			t.Fatal(err)
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	return httpClient(t, cfg)
}

// httpClient is an HTTP client with TLS configuration cfg, whose connections close at the end
// of the test.
func httpClient(t *testing.T, cfg *tls.Config) *http.Client {
	transport := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{Transport: transport, Timeout: 5 * time.Second}
}

// etcdRange reads key through etcd's gRPC gateway and returns its values.
func etcdRange(ctx context.Context, client *http.Client, etcdURL, key string) ([][]byte, error) {
	var resp struct {
		Kvs []struct {
			Value []byte `json:"value"`
		} `json:"kvs"`
	}
	if err := etcdPost(ctx, client, etcdURL+"/v3/kv/range", map[string][]byte{"key": []byte(key)}, &resp); err != nil {
		return nil, err
	}
	values := make([][]byte, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		values = append(values, kv.Value)
	}
	return values, nil
}

// etcdPost posts body as JSON to one of the gRPC gateway's endpoints and decodes the answer
// into out, unless out is nil. Byte fields travel in base64, as the gateway wants them.
func etcdPost(ctx context.Context, client *http.Client, endpoint string, body, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	answer, err := requestOK(ctx, client, http.MethodPost, endpoint, bytes.NewReader(data))
	if err != nil || out == nil {
		return err
	}
	return json.Unmarshal(answer, out)
}
