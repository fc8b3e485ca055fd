package gitserver

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// GitHubAppUser is the user name GitHub expects with an installation token over HTTPS.
const GitHubAppUser = "x-access-token"

// GitHubApp is a loopback stand-in for the one endpoint of GitHub's REST API that a GitHub App
// uses to authenticate Git: POST /app/installations/{id}/access_tokens. It checks the App's JWT
// as GitHub does (RS256 signature by the App's key, iss the App's ID, iat not in the future, exp
// in the future and at most 10 minutes ahead) and issues tokens that Authorize accepts, as an
// HTTPServer's HTTPOptions.Authorize, until they expire.
type GitHubApp struct {
	// AppID and InstallationID are what the App's JWT must name and the path must hold.
	AppID          string
	InstallationID string
	// PrivateKeyPEM is the App's key, PKCS#1 PEM as GitHub hands it out.
	PrivateKeyPEM []byte

	server *httptest.Server
	key    *rsa.PrivateKey

	mu        sync.Mutex
	now       func() time.Time
	lifetime  time.Duration
	tokens    map[string]time.Time // token -> expiry
	last      string
	exchanges int
	refusals  []string
}

// NewGitHubApp starts the API on 127.0.0.1 with a fresh App key, app ID 12345 and installation
// 678, issuing tokens valid for an hour; it stops when the test ends.
func NewGitHubApp(t TB) *GitHubApp {
	t.Helper()
	key, keyPEM, err := GenerateRSAKey()
	if err != nil {
		t.Fatal(err)
	}
	g := &GitHubApp{
		AppID:          "12345",
		InstallationID: "678",
		PrivateKeyPEM:  keyPEM,
		key:            key,
		now:            time.Now,
		lifetime:       time.Hour,
		tokens:         map[string]time.Time{},
	}
	g.server = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.server.Close)
	return g
}

// GenerateRSAKey returns a fresh 2048-bit RSA key and its PKCS#1 PEM.
func GenerateRSAKey() (*rsa.PrivateKey, []byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("generate an RSA key: %w", err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), nil
}

// URL is the API's base URL, http://127.0.0.1:PORT (what a store's apiURL holds).
func (g *GitHubApp) URL() string { return g.server.URL }

// SetClock replaces the API's clock (time.Now), for tests that move time on.
func (g *GitHubApp) SetClock(now func() time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.now = now
}

// SetTokenLifetime sets how long the tokens issued from now on are valid.
func (g *GitHubApp) SetTokenLifetime(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lifetime = d
}

// Exchanges is how many tokens were issued.
func (g *GitHubApp) Exchanges() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.exchanges
}

// Tokens are the tokens issued so far, in no particular order.
func (g *GitHubApp) Tokens() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]string, 0, len(g.tokens))
	for t := range g.tokens {
		out = append(out, t)
	}
	return out
}

// LastToken is the token issued last, "" before the first.
func (g *GitHubApp) LastToken() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last
}

// Refusals are the reasons of the requests the API refused, oldest first.
func (g *GitHubApp) Refusals() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.refusals...)
}

// Revoke makes the git server refuse a token from now on, as GitHub does after DELETE
// /installation/token.
func (g *GitHubApp) Revoke(token string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.tokens, token)
}

// Authorize accepts the user x-access-token with a token the API issued and that has not
// expired by the API's clock.
func (g *GitHubApp) Authorize(user, password string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	expiry, ok := g.tokens[password]
	return user == GitHubAppUser && ok && g.now().Before(expiry)
}

func (g *GitHubApp) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	refuse := func(code int, why, message string) {
		g.refusals = append(g.refusals, why)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": message}) // the client may hang up
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/app/installations/")
	if id, ok = strings.CutSuffix(id, "/access_tokens"); !ok || strings.Contains(id, "/") {
		refuse(http.StatusNotFound, "unknown path "+r.URL.Path, "Not Found")
		return
	}
	if r.Method != http.MethodPost {
		refuse(http.StatusNotFound, "method "+r.Method, "Not Found")
		return
	}
	if got := r.Header.Get("Accept"); got != "application/vnd.github+json" {
		refuse(http.StatusUnsupportedMediaType, "Accept "+got, "Unsupported media type")
		return
	}
	jwt, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		refuse(http.StatusUnauthorized, "no bearer token", "Requires authentication")
		return
	}
	if err := g.checkJWT(jwt); err != nil {
		refuse(http.StatusUnauthorized, err.Error(), "A JSON web token could not be decoded")
		return
	}
	if id != g.InstallationID {
		refuse(http.StatusNotFound, "installation "+id, "Not Found")
		return
	}
	b := make([]byte, 18)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	token := "ghs_" + hex.EncodeToString(b)
	expiry := g.now().Add(g.lifetime).UTC().Truncate(time.Second)
	g.tokens[token], g.last = expiry, token
	g.exchanges++
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{ // the client may hang up
		"token":                token,
		"expires_at":           expiry.Format(time.RFC3339),
		"permissions":          map[string]string{"contents": "write", "metadata": "read"},
		"repository_selection": "all",
	})
}

// checkJWT verifies the App's JWT as GitHub does.
func (g *GitHubApp) checkJWT(jwt string) error {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return errors.New("the JWT has not three parts")
	}
	enc := base64.RawURLEncoding
	var header struct {
		Alg string `json:"alg"`
	}
	if raw, err := enc.DecodeString(parts[0]); err != nil || json.Unmarshal(raw, &header) != nil {
		return errors.New("the JWT's header does not decode")
	}
	if header.Alg != "RS256" {
		return fmt.Errorf("alg %q, want RS256", header.Alg)
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return errors.New("the JWT's signature does not decode")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&g.key.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		return errors.New("the JWT's signature is not the App key's")
	}
	var claims struct {
		Iss json.RawMessage `json:"iss"`
		Iat *int64          `json:"iat"`
		Exp *int64          `json:"exp"`
	}
	raw, err := enc.DecodeString(parts[1])
	if err != nil || json.Unmarshal(raw, &claims) != nil {
		return errors.New("the JWT's claims do not decode")
	}
	iss := strings.Trim(string(claims.Iss), `"`)
	if iss != g.AppID {
		return fmt.Errorf("iss %s, want the App's ID %s", claims.Iss, g.AppID)
	}
	if claims.Iat == nil || claims.Exp == nil {
		return errors.New("the JWT lacks iat or exp")
	}
	now := g.now()
	iat, exp := time.Unix(*claims.Iat, 0), time.Unix(*claims.Exp, 0)
	switch {
	case iat.After(now):
		return errors.New("iat is in the future")
	case !exp.After(now):
		return errors.New("the JWT expired")
	case exp.After(now.Add(10 * time.Minute)):
		return errors.New("exp is more than 10 minutes ahead")
	}
	return nil
}
