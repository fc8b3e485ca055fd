package git

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"

	"kratix.dev/kratix/internal/gitserver"
	"kratix.dev/kratix/internal/testenv"
	"kratix.dev/kratix/statestore"
)

// appFixture is a GitHub App API on loopback in front of a real git HTTP server that accepts only
// x-access-token with the tokens the API issued and that have not expired.
type appFixture struct {
	api    *gitserver.GitHubApp
	server *gitserver.HTTPServer
	// offset moves the clock of both the API and the writers on.
	offset atomic.Int64
	logs   testenv.LogBuffer
}

func newAppFixture(t *testing.T) *appFixture {
	t.Helper()
	f := &appFixture{api: gitserver.NewGitHubApp(t)}
	f.api.SetClock(f.now)
	f.server = gitserver.NewHTTP(t, gitserver.HTTPOptions{Authorize: f.api.Authorize})
	if _, err := f.server.CreateRepo("state.git", "main"); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *appFixture) now() time.Time { return time.Now().Add(time.Duration(f.offset.Load())) }

// writer is a writer for the repository as the App, with app's settings changed by edit.
func (f *appFixture) writer(t *testing.T, edit func(*GitHubApp)) (*Writer, error) {
	t.Helper()
	app := &GitHubApp{
		AppID:          f.api.AppID,
		InstallationID: f.api.InstallationID,
		PrivateKey:     f.api.PrivateKeyPEM,
		APIURL:         f.api.URL(),
	}
	if edit != nil {
		edit(app)
	}
	w, err := New(Options{
		URL:      f.server.URL("state.git"),
		Auth:     Auth{GitHubApp: app},
		Insecure: true, // the token over the loopback servers' plain http
		Logger:   funcr.New(func(prefix, args string) { fmt.Fprintln(&f.logs, prefix, args) }, funcr.Options{Verbosity: 10}),
		now:      f.now,
	})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("close writer: %v", err)
		}
	})
	return w, nil
}

// noSecretIn fails the test if text holds the App's key or an issued token.
func (f *appFixture) noSecretIn(t *testing.T, what, text string) {
	t.Helper()
	block, _ := pem.Decode(f.api.PrivateKeyPEM)
	keyLine := strings.Split(string(f.api.PrivateKeyPEM), "\n")[1]
	if strings.Contains(text, keyLine) || strings.Contains(text, string(block.Bytes)) {
		t.Errorf("%s shows the App's private key", what)
	}
	for _, token := range f.api.Tokens() {
		if strings.Contains(text, token) {
			t.Errorf("%s shows an installation token: %s", what, text)
		}
	}
	if strings.Contains(text, "eyJ") { // every JWT starts with the base64 of {"
		t.Errorf("%s shows a JWT: %s", what, text)
	}
}

// TestGitHubAppPushes: a writer with a GitHub App's credentials buys an installation token with
// a JWT the API verifies, pushes a commit as x-access-token, reuses the token while it is valid,
// and buys a new one when it has expired; nothing it logs shows the key, the JWT or a token.
func TestGitHubAppPushes(t *testing.T) {
	f := newAppFixture(t)
	w, err := f.writer(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	if _, err := w.Apply(ctx, change("dev/a", "a.yaml", "a")); err != nil {
		t.Fatalf("first write: %v (the API refused: %v)", err, f.api.Refusals())
	}
	if got := f.api.Exchanges(); got != 1 {
		t.Fatalf("%d token exchanges for the first write (clone and push), want 1", got)
	}
	out, err := f.server.Git(ctx, "state.git", "show", "main:dev/a/a.yaml")
	if err != nil || strings.TrimSpace(out) != "a" {
		t.Fatalf("main:dev/a/a.yaml = %q, %v", out, err)
	}

	// Within the token's life: no new exchange.
	if _, err := w.Apply(ctx, change("dev/b", "b.yaml", "b")); err != nil {
		t.Fatalf("second write: %v", err)
	}
	if err := w.Validate(ctx); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if got := f.api.Exchanges(); got != 1 {
		t.Fatalf("%d token exchanges after a second write within the token's life, want 1", got)
	}

	// A revoked token is refused by the git server: the writer buys a new one and the write
	// succeeds all the same.
	f.api.Revoke(f.api.LastToken())
	if _, err := w.Apply(ctx, change("dev/r", "r.yaml", "r")); err != nil {
		t.Fatalf("write after the token was revoked: %v", err)
	}
	if got := f.api.Exchanges(); got != 2 {
		t.Fatalf("%d token exchanges after the token was revoked, want 2", got)
	}

	// An hour and a minute later the token has expired (the git server refuses it now): the
	// writer buys a new one, with a JWT valid at the new time.
	first := f.api.LastToken()
	f.offset.Store(int64(61 * time.Minute))
	if f.api.Authorize(GitHubAppUser, first) {
		t.Fatal("the fixture's git server still accepts the expired token")
	}
	if _, err := w.Apply(ctx, change("dev/c", "c.yaml", "c")); err != nil {
		t.Fatalf("write after the token expired: %v (the API refused: %v)", err, f.api.Refusals())
	}
	if got := f.api.Exchanges(); got != 3 {
		t.Fatalf("%d token exchanges after the token expired, want 3", got)
	}

	// Five minutes before the new token expires, the writer already replaces it.
	f.offset.Store(int64(61*time.Minute + 56*time.Minute))
	if err := w.Validate(ctx); err != nil {
		t.Fatalf("Validate near the token's expiry: %v", err)
	}
	if got := f.api.Exchanges(); got != 4 {
		t.Fatalf("%d token exchanges within 5 minutes of the token's expiry, want 4", got)
	}
	if refusals := f.api.Refusals(); len(refusals) > 0 {
		t.Errorf("the API refused requests: %v", refusals)
	}
	if !strings.Contains(f.logs.String(), "installation token") {
		t.Errorf("the writer did not log its token exchanges:\n%s", f.logs.String())
	}
	f.noSecretIn(t, "the writer's log", f.logs.String())
}

// TestGitHubAppRefusals: a wrong key, app ID or installation is reported by what failed, as a
// failure that retrying does not fix, without the key, the JWT or a token; settings that cannot
// work are refused before any request.
func TestGitHubAppRefusals(t *testing.T) {
	f := newAppFixture(t)
	_, otherKey, err := gitserver.GenerateRSAKey()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		edit     func(*GitHubApp)
		kind     error
		says     string
		apiSaid  string
		notRetry bool
	}{
		{"another key", func(a *GitHubApp) { a.PrivateKey = otherKey }, statestore.ErrAuthentication,
			"the GitHub App's private key or app ID was refused", "signature", true},
		{"another app ID", func(a *GitHubApp) { a.AppID = "999" }, statestore.ErrAuthentication,
			"the GitHub App's private key or app ID was refused", "iss", true},
		{"an unknown installation", func(a *GitHubApp) { a.InstallationID = "404" }, statestore.ErrNotFound,
			"installation 404 not found", "installation 404", true},
	}
	ctx := testContext(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := f.writer(t, tc.edit)
			if err != nil {
				t.Fatal(err)
			}
			before := len(f.api.Refusals())
			_, applyErr := w.Apply(ctx, change("dev/x", "x.yaml", "x"))
			validateErr := w.Validate(ctx)
			for _, err := range []error{applyErr, validateErr} {
				if !errors.Is(err, tc.kind) || statestore.Retryable(err) {
					t.Fatalf("error %v, want a non-retryable %v", err, tc.kind)
				}
				if !strings.Contains(err.Error(), tc.says) {
					t.Errorf("error %q does not say %q", err, tc.says)
				}
				f.noSecretIn(t, "the error", err.Error())
				if strings.Contains(err.Error(), "BEGIN") {
					t.Errorf("the error quotes a key: %v", err)
				}
			}
			refusals := f.api.Refusals()[before:]
			if len(refusals) == 0 || !strings.Contains(refusals[0], tc.apiSaid) {
				t.Errorf("the API's refusals %v, want one about %s", refusals, tc.apiSaid)
			}
		})
	}
	f.noSecretIn(t, "the writer's log", f.logs.String())

	pkcs8Key := func() []byte {
		// The same kind of key, as PKCS#8.
		_, rsaPEM, err := gitserver.GenerateRSAKey()
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(rsaPEM)
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}()
	invalid := []struct {
		name string
		edit func(*GitHubApp)
		says string
	}{
		{"no app ID", func(a *GitHubApp) { a.AppID = " " }, "appID"},
		{"an installation that is no number", func(a *GitHubApp) { a.InstallationID = "../../user" }, "installationID"},
		{"a key that is no PEM", func(a *GitHubApp) { a.PrivateKey = []byte("s3cr3t-not-a-key") }, "privateKey is not PEM"},
		{"a PEM that is no key", func(a *GitHubApp) {
			a.PrivateKey = []byte("-----BEGIN RSA PRIVATE KEY-----\nczNjcjN0\n-----END RSA PRIVATE KEY-----\n")
		}, "does not parse"},
		{"an http API that is not loopback", func(a *GitHubApp) { a.APIURL = "http://github.example.com/api/v3" }, "plain http"},
		{"an API URL with credentials", func(a *GitHubApp) { a.APIURL = "https://user:pw@github.example.com/api/v3" }, "credentials"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.writer(t, tc.edit)
			if !errors.Is(err, statestore.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("New = %v, want an invalid configuration saying %q", err, tc.says)
			}
			for _, secret := range []string{"s3cr3t", "czNjcjN0", ":pw@"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows %q: %v", secret, err)
				}
			}
		})
	}
	t.Run("a PKCS#8 RSA key", func(t *testing.T) {
		w, err := f.writer(t, func(a *GitHubApp) { a.PrivateKey = pkcs8Key })
		if err != nil {
			t.Fatal(err)
		}
		// Another key than the App's, so refused by the API, but read and used for signing.
		if err := w.Validate(ctx); !errors.Is(err, statestore.ErrAuthentication) {
			t.Fatalf("Validate = %v, want the API's refusal", err)
		}
	})
	t.Run("http without insecure", func(t *testing.T) {
		_, err := New(Options{URL: f.server.URL("state.git"), Auth: Auth{GitHubApp: &GitHubApp{
			AppID: f.api.AppID, InstallationID: f.api.InstallationID, PrivateKey: f.api.PrivateKeyPEM, APIURL: f.api.URL(),
		}}})
		if !errors.Is(err, ErrCredentialsOverHTTP) && !strings.Contains(fmt.Sprint(err), "clear text") {
			t.Fatalf("New = %v, want a refusal to send the token over http", err)
		}
	})
}
