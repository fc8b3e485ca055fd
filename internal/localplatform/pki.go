package localplatform

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"kratix.dev/kratix/internal/atomicfile"
)

// The certificates live for ten years: the data directory is one person's platform, and an
// expired certificate there would only be a puzzle. A certificate within renewBefore of its end,
// or not signed by the current CA, is issued again at the next start.
const (
	certLifetime = 10 * 365 * 24 * time.Hour
	renewBefore  = 30 * 24 * time.Hour
)

// The files of the PKI directory.
const (
	caName                = "ca"
	apiserverName         = "apiserver"
	adminName             = "admin"
	controllerManagerName = "kube-controller-manager"
	// controllerManagerServingName is the certificate of kube-controller-manager's /healthz.
	controllerManagerServingName = "kube-controller-manager-serving"
	serviceAccountKeyFile        = "sa.key"
	serviceAccountPubFile        = "sa.pub"

	// etcdCAName is the CA that etcd trusts, and nothing else does. etcd does not trust the
	// platform's CA: that one signs the administrator's certificate, which the engine and its
	// adapters hold, and, through kube-controller-manager, every approved CSR.
	etcdCAName = "etcd-ca"
	// etcdServerName is etcd's certificate: it serves the client and peer listeners, and etcd's
	// gRPC gateway presents it when it dials etcd as a client.
	etcdServerName = "etcd-server"
	// apiserverEtcdClientName is kube-apiserver's client certificate to etcd, etcd's only client.
	apiserverEtcdClientName = "apiserver-etcd-client"
)

// authorities are the certificate authorities of the PKI: the platform's, and etcd's own.
var authorities = []struct{ name, commonName string }{
	{caName, "kratix-local-ca"},
	{etcdCAName, "kratix-local-etcd-ca"},
}

// serviceIP is the first address of the API server's service range (10.0.0.0/24): the
// `kubernetes` Service's ClusterIP, which the serving certificate names as a cluster's does.
var serviceIP = net.ParseIP("10.0.0.1")

// leafSpec describes one certificate signed by one of the authorities.
type leafSpec struct {
	name string
	// issuer is the name of the authority that signs it.
	issuer     string
	commonName string
	orgs       []string
	usages     []x509.ExtKeyUsage
	dnsNames   []string
	ips        []net.IP
}

// The extended key usages of the leaves.
var (
	serverAuth = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	clientAuth = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
)

// leaves are the certificates of the platform. The platform's CA signs the API server's serving
// certificate, the administrator (system:masters: the kubeconfig that the user, the engine and
// its adapters use), kube-controller-manager's client identity (bound by the API server's
// bootstrap RBAC, as with kubeadm) and its serving certificate. The etcd CA signs etcd's
// certificate and kube-apiserver's client certificate to etcd.
var leaves = []leafSpec{
	{name: apiserverName, issuer: caName, commonName: "kube-apiserver", usages: serverAuth,
		dnsNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		ips:      []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, serviceIP}},
	{name: adminName, issuer: caName, commonName: "kratix-local-admin", orgs: []string{"system:masters"}, usages: clientAuth},
	{name: controllerManagerName, issuer: caName, commonName: "system:kube-controller-manager", usages: clientAuth},
	{name: controllerManagerServingName, issuer: caName, commonName: "kube-controller-manager", usages: serverAuth,
		dnsNames: []string{"localhost"}, ips: []net.IP{net.IPv4(127, 0, 0, 1)}},
	{name: etcdServerName, issuer: etcdCAName, commonName: "etcd",
		usages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		dnsNames: []string{"localhost"}, ips: []net.IP{net.IPv4(127, 0, 0, 1)}},
	{name: apiserverEtcdClientName, issuer: etcdCAName, commonName: "kube-apiserver-etcd-client", usages: clientAuth},
}

// pki is the platform's certificates and keys, kept in dir across starts.
type pki struct {
	dir string
	// ca is the platform's CA, which the API server and kube-controller-manager trust.
	ca *x509.Certificate
}

// authority is a CA's certificate and the key it signs with.
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func (p *pki) cert(name string) string { return filepath.Join(p.dir, name+".crt") }
func (p *pki) key(name string) string  { return filepath.Join(p.dir, name+".key") }
func (p *pki) saKey() string           { return filepath.Join(p.dir, serviceAccountKeyFile) }
func (p *pki) saPub() string           { return filepath.Join(p.dir, serviceAccountPubFile) }

// ensurePKI loads the PKI from dir, creating or renewing what is missing, expiring or no longer
// signed by its CA: a directory of an older version gains the certificates it lacks. The
// service-account key pair is kept as long as it exists: tokens that the API server issued stay
// valid across restarts. dir is made readable by its owner only, whatever its mode was.
func ensurePKI(dir string) (*pki, error) {
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("make the PKI directory private: %w", err)
	}
	p := &pki{dir: dir}
	cas := map[string]authority{}
	for _, a := range authorities {
		ca, err := p.ensureCA(a.name, a.commonName)
		if err != nil {
			return nil, fmt.Errorf("certificate authority %s: %w", a.name, err)
		}
		cas[a.name] = ca
	}
	p.ca = cas[caName].cert
	for _, spec := range leaves {
		if err := p.ensureLeaf(spec, cas[spec.issuer]); err != nil {
			return nil, fmt.Errorf("certificate %s: %w", spec.name, err)
		}
	}
	if err := p.ensureServiceAccountKey(); err != nil {
		return nil, fmt.Errorf("service-account key: %w", err)
	}
	return p, nil
}

// ensureCA loads the CA stored as name, or creates a new one when it is missing or expiring.
func (p *pki) ensureCA(name, commonName string) (authority, error) {
	if cert, key, err := loadPair(p.cert(name), p.key(name)); err == nil && fresh(cert) {
		return authority{cert: cert, key: key}, nil
	}
	key, err := newKey()
	if err != nil {
		return authority{}, err
	}
	tmpl, err := template(commonName, nil)
	if err != nil {
		return authority{}, err
	}
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	cert, err := issue(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return authority{}, err
	}
	return authority{cert: cert, key: key}, writePair(p.cert(name), p.key(name), cert, key)
}

// ensureLeaf keeps a valid certificate signed by ca, or has ca issue it again.
func (p *pki) ensureLeaf(spec leafSpec, ca authority) error {
	if ca.cert == nil {
		return fmt.Errorf("no certificate authority %q", spec.issuer)
	}
	if cert, _, err := loadPair(p.cert(spec.name), p.key(spec.name)); err == nil && fresh(cert) && cert.CheckSignatureFrom(ca.cert) == nil {
		return nil
	}
	key, err := newKey()
	if err != nil {
		return err
	}
	tmpl, err := template(spec.commonName, spec.orgs)
	if err != nil {
		return err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = spec.usages
	tmpl.DNSNames, tmpl.IPAddresses = spec.dnsNames, spec.ips
	cert, err := issue(tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return err
	}
	return writePair(p.cert(spec.name), p.key(spec.name), cert, key)
}

// ensureServiceAccountKey creates the key pair that signs service-account tokens, unless it exists.
func (p *pki) ensureServiceAccountKey() error {
	if _, err := loadKey(p.saKey()); err == nil {
		if _, err := os.Stat(p.saPub()); err == nil {
			return nil
		}
	}
	key, err := newKey()
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	return errors.Join(
		writeFileAtomic(p.saKey(), keyPEM),
		writeFileAtomic(p.saPub(), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
}

func newKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

// template is a certificate template with a random serial number, valid for certLifetime.
func template(commonName string, orgs []string) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName, Organization: orgs},
		NotBefore:    now.Add(-time.Hour), // tolerate a little clock skew
		NotAfter:     now.Add(certLifetime),
	}, nil
}

func issue(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// fresh says whether a certificate is good for longer than renewBefore.
func fresh(cert *x509.Certificate) bool { return time.Now().Add(renewBefore).Before(cert.NotAfter) }

func loadPair(certFile, keyFile string) (*x509.Certificate, crypto.Signer, error) {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("%s holds no certificate", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := loadKey(keyFile)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func loadKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s holds no private key", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: a %T cannot sign", path, key)
	}
	return signer, nil
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func writePair(certFile, keyFile string, cert *x509.Certificate, key crypto.Signer) error {
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(keyFile, keyPEM); err != nil {
		return err
	}
	return writeFileAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
}

// writeFileAtomic writes data readable by the owner only, so that a crash never leaves half a
// key behind.
func writeFileAtomic(path string, data []byte) error {
	return atomicfile.Write(path, data, 0o600)
}
