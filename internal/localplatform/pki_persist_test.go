package localplatform

import (
	"bytes"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A second start keeps every certificate and key; a lost CA key brings a new CA and new
// certificates signed by it, and keeps the service-account key, so that issued tokens stay valid,
// and etcd's CA and certificates, which do not depend on it.
func TestPKIIsKeptAndRenewed(t *testing.T) {
	dir := t.TempDir()
	first, err := ensurePKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	before := readAll(t, dir)
	if _, err := ensurePKI(dir); err != nil {
		t.Fatal(err)
	}
	for name, data := range readAll(t, dir) {
		if !bytes.Equal(data, before[name]) {
			t.Errorf("%s changed on a second start", name)
		}
	}

	if err := os.Remove(first.key(caName)); err != nil {
		t.Fatal(err)
	}
	renewed, err := ensurePKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	if renewed.ca.Equal(first.ca) {
		t.Fatal("the CA was kept without its key")
	}
	for _, spec := range leaves {
		cert := loadCert(t, renewed, spec.name)
		if err := cert.CheckSignatureFrom(loadCert(t, renewed, spec.issuer)); err != nil {
			t.Errorf("%s is not signed by %s: %v", spec.name, spec.issuer, err)
		}
	}
	after := readAll(t, dir)
	for _, name := range []string{serviceAccountKeyFile, serviceAccountPubFile, etcdCAName + ".key", etcdServerName + ".crt", apiserverEtcdClientName + ".crt"} {
		if !bytes.Equal(after[name], before[name]) {
			t.Errorf("%s changed with the CA", name)
		}
	}
}

// A PKI directory of an older version, without etcd's certificates and open to others, gains
// them, keeps everything else and becomes private.
func TestPKIOlderDirectoryGainsEtcdCertificates(t *testing.T) {
	dir := t.TempDir()
	p, err := ensurePKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	removeEtcdPKI(t, p)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	before := readAll(t, dir)
	if p, err = ensurePKI(dir); err != nil {
		t.Fatal(err)
	}
	after := readAll(t, dir)
	for name, data := range before {
		if !bytes.Equal(after[name], data) {
			t.Errorf("%s changed", name)
		}
	}
	for _, name := range []string{etcdCAName, etcdServerName, apiserverEtcdClientName} {
		if _, _, err := loadPair(p.cert(name), p.key(name)); err != nil {
			t.Errorf("etcd's %s: %v", name, err)
		}
	}
	checkPrivate(t, dir)
}

// The API server's certificate serves loopback and the in-cluster names; the administrator is in
// system:masters; kube-controller-manager has the identity the bootstrap RBAC binds.
func TestPKIIdentities(t *testing.T) {
	p, err := ensurePKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	load := func(name string) *x509.Certificate { return loadCert(t, p, name) }
	serving := load(apiserverName)
	for _, host := range []string{"127.0.0.1", "localhost", "kubernetes.default.svc"} {
		if err := serving.VerifyHostname(host); err != nil {
			t.Errorf("the API server's certificate: %v", err)
		}
	}
	if !slices.ContainsFunc(serving.IPAddresses, func(ip net.IP) bool { return ip.Equal(serviceIP) }) {
		t.Errorf("the API server's certificate lacks the service IP %s", serviceIP)
	}
	if admin := load(adminName); !slices.Contains(admin.Subject.Organization, "system:masters") {
		t.Errorf("the administrator's groups are %v", admin.Subject.Organization)
	}
	if kcm := load(controllerManagerName); kcm.Subject.CommonName != "system:kube-controller-manager" {
		t.Errorf("kube-controller-manager is %q", kcm.Subject.CommonName)
	}
	checkPrivate(t, p.dir)
}

// etcd's certificate serves 127.0.0.1 and is a client's too, for etcd's gRPC gateway; etcd's CA
// vouches for kube-apiserver's client certificate and for none of the platform's CA.
func TestPKIEtcdTrustsItsOwnCA(t *testing.T) {
	p, err := ensurePKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(loadCert(t, p, etcdCAName))
	verify := func(name, host string, usage x509.ExtKeyUsage) error {
		_, err := loadCert(t, p, name).Verify(x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{usage}})
		return err
	}
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if err := verify(etcdServerName, "127.0.0.1", usage); err != nil {
			t.Errorf("etcd's certificate, usage %v: %v", usage, err)
		}
	}
	if err := verify(apiserverEtcdClientName, "", x509.ExtKeyUsageClientAuth); err != nil {
		t.Errorf("kube-apiserver's client certificate to etcd: %v", err)
	}
	for _, name := range []string{adminName, controllerManagerName} {
		if err := verify(name, "", x509.ExtKeyUsageClientAuth); err == nil {
			t.Errorf("etcd's CA vouches for %s", name)
		}
	}
}

// removeEtcdPKI removes etcd's CA and certificates from p, as a version before them left it.
func removeEtcdPKI(t *testing.T, p *pki) {
	t.Helper()
	for _, name := range []string{etcdCAName, etcdServerName, apiserverEtcdClientName} {
		for _, path := range []string{p.cert(name), p.key(name)} {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// checkPrivate fails the test unless dir is its owner's alone and every key in it has mode 0600.
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o700 {
		t.Errorf("%s has mode %v, want 0700", dir, info.Mode().Perm())
	}
	keys, _ := filepath.Glob(filepath.Join(dir, "*.key")) // the pattern is valid
	if len(keys) == 0 {
		t.Errorf("no keys in %s", dir)
	}
	for _, key := range keys {
		info, err := os.Stat(key)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", key, info.Mode().Perm())
		}
	}
}

// loadCert loads the certificate name of p, whose key must be there too.
func loadCert(t *testing.T, p *pki, name string) *x509.Certificate {
	t.Helper()
	cert, _, err := loadPair(p.cert(name), p.key(name))
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func readAll(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = data
	}
	return out
}
