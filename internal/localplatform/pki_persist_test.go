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
// certificates signed by it, and keeps the service-account key, so that issued tokens stay valid.
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
		cert, _, err := loadPair(renewed.cert(spec.name), renewed.key(spec.name))
		if err != nil {
			t.Fatal(err)
		}
		if err := cert.CheckSignatureFrom(renewed.ca); err != nil {
			t.Errorf("%s is not signed by the new CA: %v", spec.name, err)
		}
	}
	after := readAll(t, dir)
	for _, name := range []string{serviceAccountKeyFile, serviceAccountPubFile} {
		if !bytes.Equal(after[name], before[name]) {
			t.Errorf("%s changed with the CA", name)
		}
	}
}

// The API server's certificate serves loopback and the in-cluster names; the administrator is in
// system:masters; kube-controller-manager has the identity the bootstrap RBAC binds.
func TestPKIIdentities(t *testing.T) {
	p, err := ensurePKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	load := func(name string) *x509.Certificate {
		cert, _, err := loadPair(p.cert(name), p.key(name))
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
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
	info, err := os.Stat(p.saKey())
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("the service-account key has mode %v, want 0600", info.Mode().Perm())
	}
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
