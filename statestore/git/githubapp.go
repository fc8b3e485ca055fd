package git

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-logr/logr"

	"kratix.dev/kratix/statestore"
)

// GitHubApp holds the credentials of a GitHub App installation (authMethod githubApp). The
// writer signs a JWT with PrivateKey, exchanges it at APIURL for an installation token, and sends
// that token over HTTPS as the password of the user x-access-token. Tokens are kept until
// shortly before they expire.
type GitHubApp struct {
	// AppID is the App's ID (or client ID): the JWT's issuer.
	AppID string
	// InstallationID is the numeric ID of the App's installation on the repository's owner.
	InstallationID string
	// PrivateKey is the App's RSA private key, PEM (PKCS#1 or PKCS#8) as GitHub hands it out.
	PrivateKey []byte
	// APIURL is GitHub's REST API; DefaultGitHubAPIURL when empty. GitHub Enterprise Server's is
	// https://HOST/api/v3. Plain http is accepted only for a loopback host with Options.Insecure.
	APIURL string
}

// DefaultGitHubAPIURL is the API of github.com.
const DefaultGitHubAPIURL = "https://api.github.com"

// GitHubAppUser is the user name that goes with an installation token over HTTPS.
const GitHubAppUser = "x-access-token"

const (
	// appJWTBackdate is how far in the past the JWT's iat lies, for clocks that run behind
	// GitHub's; appJWTLifetime is how long it is valid from now (GitHub accepts 10 minutes at
	// most).
	appJWTBackdate = 60 * time.Second
	appJWTLifetime = 9 * time.Minute
	// appTokenRenewBefore is how long before its expiry a token is replaced.
	appTokenRenewBefore = 5 * time.Minute
	// appTokenDefaultLifetime is GitHub's documented lifetime of an installation token, for an
	// answer without expires_at.
	appTokenDefaultLifetime = time.Hour
	// maxAppTokenResponse bounds what is read of the API's answer.
	maxAppTokenResponse = 1 << 20
)

// appTokens buys and caches installation tokens of one GitHub App installation.
type appTokens struct {
	appID          string
	installationID string
	key            *rsa.PrivateKey
	endpoint       string // <apiURL>/app/installations/<id>/access_tokens
	apiURL         string // for messages
	client         *http.Client
	log            logr.Logger
	now            func() time.Time

	mu      sync.Mutex
	token   string
	renewAt time.Time
}

// newAppTokens validates the App's settings; it does not contact GitHub.
func newAppTokens(app *GitHubApp, caBundle []byte, insecure bool, log logr.Logger) (*appTokens, error) {
	appID := strings.TrimSpace(app.AppID)
	if appID == "" {
		return nil, invalidConfig("authMethod githubApp needs appID in the state store's Secret")
	}
	if strings.ContainsAny(appID, " \t\r\n\"\\") {
		return nil, invalidConfig("appID must be the GitHub App's ID or client ID, on one line")
	}
	installationID := strings.TrimSpace(app.InstallationID)
	if installationID == "" {
		return nil, invalidConfig("authMethod githubApp needs installationID in the state store's Secret")
	}
	if strings.Trim(installationID, "0123456789") != "" || len(installationID) > 20 {
		return nil, invalidConfig("installationID must be the number of the GitHub App's installation")
	}
	key, err := parseAppKey(app.PrivateKey)
	if err != nil {
		return nil, err
	}
	apiURL, err := appAPIURL(app.APIURL, insecure)
	if err != nil {
		return nil, err
	}
	client, err := appHTTPClient(caBundle, insecure)
	if err != nil {
		return nil, err
	}
	return &appTokens{
		appID:          appID,
		installationID: installationID,
		key:            key,
		endpoint:       apiURL + "/app/installations/" + installationID + "/access_tokens",
		apiURL:         apiURL,
		client:         client,
		log:            log,
		now:            time.Now,
	}, nil
}

// parseAppKey reads an RSA private key from PEM, PKCS#1 or PKCS#8. Its errors never quote the
// key.
func parseAppKey(data []byte) (*rsa.PrivateKey, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, invalidConfig("authMethod githubApp needs privateKey in the state store's Secret")
	}
	block, _ := pem.Decode(bytes.TrimSpace(data))
	if block == nil {
		return nil, invalidConfig("privateKey is not PEM: give the GitHub App's private key (.pem) as GitHub generated it")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, invalidConfig("privateKey does not parse as an RSA private key (PKCS#1 or PKCS#8 PEM)")
	}
	k, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, invalidConfig(fmt.Sprintf("privateKey is a %T, not the RSA key GitHub Apps use", parsed))
	}
	return k, nil
}

// appAPIURL validates the API's URL and returns it without a trailing slash: https, or http for a
// loopback host when the store is insecure; no credentials, query or fragment.
func appAPIURL(raw string, insecure bool) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return DefaultGitHubAPIURL, nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", invalidConfig(fmt.Sprintf("apiURL %s is not an absolute URL", statestore.RedactURL(raw)))
	}
	shown := statestore.RedactURL(raw)
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", invalidConfig(fmt.Sprintf("apiURL %s must not hold credentials, a query or a fragment", shown))
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !insecure || !isLoopback(u.Hostname()) {
			return "", invalidConfig(fmt.Sprintf("apiURL %s: plain http is accepted only for a loopback host of an insecure store; use https", shown))
		}
	default:
		return "", invalidConfig(fmt.Sprintf("apiURL %s: scheme %q is not supported; use https", shown, u.Scheme))
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// appHTTPClient talks to the API with the store's TLS settings (its ca.crt and insecure), and
// never follows a redirect: the JWT goes to the configured API or nowhere.
func appHTTPClient(caBundle []byte, insecure bool) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // only when the store says insecure
	if len(caBundle) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(caBundle) {
			return nil, invalidConfig("ca.crt holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	tr.TLSClientConfig = cfg
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}

// auth returns basic auth with a valid installation token, exchanging a new one (fresh) when the
// cached one is missing or about to expire.
func (a *appTokens) auth(ctx context.Context) (basic *githttp.BasicAuth, fresh bool, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token == "" || !a.now().Before(a.renewAt) {
		token, expires, err := a.exchange(ctx)
		if err != nil {
			return nil, false, err
		}
		fresh = true
		a.token, a.renewAt = token, expires.Add(-appTokenRenewBefore)
		a.log.V(1).Info("obtained a GitHub App installation token", "api", a.apiURL,
			"installationID", a.installationID, "expiresAt", expires.UTC().Format(time.RFC3339))
	}
	return &githttp.BasicAuth{Username: GitHubAppUser, Password: a.token}, fresh, nil
}

// forget drops the cached token: the Git server refused it (revoked, or the App's access changed),
// so the next operation buys a new one.
func (a *appTokens) forget() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.token, a.renewAt = "", time.Time{}
}

// jwt is the App's JSON Web Token: RS256, iss the App, iat a minute in the past, exp 9 minutes
// ahead.
func (a *appTokens) jwt() (string, error) {
	now := a.now()
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT"}) // cannot fail
	claims, _ := json.Marshal(struct {
		IssuedAt  int64  `json:"iat"`
		ExpiresAt int64  `json:"exp"`
		Issuer    string `json:"iss"`
	}{now.Add(-appJWTBackdate).Unix(), now.Add(appJWTLifetime).Unix(), a.appID}) // cannot fail
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, a.key, crypto.SHA256, digest[:])
	if err != nil {
		return "", invalidConfig("sign the GitHub App's JWT with privateKey: the key does not work")
	}
	return signed + "." + enc.EncodeToString(sig), nil
}

// exchange buys an installation token. Its errors say what failed and never hold the key, the
// JWT or a token.
func (a *appTokens) exchange(ctx context.Context) (string, time.Time, error) {
	op := fmt.Sprintf("get an installation token of GitHub App %s (installation %s) from %s", a.appID, a.installationID, a.apiURL)
	jwt, err := a.jwt()
	if err != nil {
		return "", time.Time{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.endpoint, http.NoBody)
	if err != nil {
		return "", time.Time{}, statestore.NewError(statestore.ErrInvalidConfig, op, errors.New("the request cannot be built"))
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("Authorization", "Bearer "+jwt)
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", "kratix")
	resp, err := a.client.Do(req)
	if err != nil {
		// A *url.Error quotes the URL, which holds nothing secret; the JWT is in a header.
		return "", time.Time{}, statestore.NewError(statestore.ErrTransient, op, err)
	}
	defer func() { _ = resp.Body.Close() }() // read to the end or bounded; nothing to report
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAppTokenResponse))
	if err != nil {
		return "", time.Time{}, statestore.NewError(statestore.ErrTransient, op, fmt.Errorf("read the answer: %w", err))
	}
	var answer struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
		Message   string `json:"message"`
	}
	_ = json.Unmarshal(body, &answer) // an error answer may be anything; the status decides
	said := ""
	if m := scrubAppMessage(answer.Message, jwt, answer.Token); m != "" {
		said = fmt.Sprintf(" (GitHub said: %s)", m)
	}
	switch code := resp.StatusCode; {
	case code == http.StatusCreated || code == http.StatusOK:
		if answer.Token == "" {
			return "", time.Time{}, statestore.NewError(statestore.ErrTransient, op, errors.New("the answer holds no token"))
		}
		expires := a.now().Add(appTokenDefaultLifetime)
		if answer.ExpiresAt != "" {
			t, err := time.Parse(time.RFC3339, answer.ExpiresAt)
			if err != nil {
				return "", time.Time{}, statestore.NewError(statestore.ErrTransient, op, fmt.Errorf("expires_at %q does not parse", answer.ExpiresAt))
			}
			expires = t
		}
		return answer.Token, expires, nil
	case code == http.StatusUnauthorized:
		return "", time.Time{}, statestore.NewError(statestore.ErrAuthentication, op,
			fmt.Errorf("the GitHub App's private key or app ID was refused (401)%s", said))
	case code == http.StatusNotFound:
		return "", time.Time{}, statestore.NewError(statestore.ErrNotFound, op,
			fmt.Errorf("installation %s not found: check installationID and that the App is installed on the repository's owner (404)%s", a.installationID, said))
	case code == http.StatusForbidden:
		return "", time.Time{}, statestore.NewError(statestore.ErrAuthentication, op,
			fmt.Errorf("the GitHub App may not create a token for this installation (403)%s", said))
	case code == http.StatusTooManyRequests || code >= 500:
		return "", time.Time{}, statestore.NewError(statestore.ErrTransient, op, fmt.Errorf("GitHub answered %d%s", code, said))
	default:
		return "", time.Time{}, statestore.NewError(statestore.ErrTransient, op, fmt.Errorf("unexpected answer %d%s", code, said))
	}
}

// scrubAppMessage is the message of an API error as it may show: one short line, without the
// JWT or a token should the server echo them.
func scrubAppMessage(msg string, secrets ...string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "<redacted>")
		}
	}
	msg = strings.Join(strings.Fields(strings.ToValidUTF8(msg, "")), " ")
	if len(msg) > 200 {
		msg = strings.ToValidUTF8(msg[:200], "") + "…"
	}
	return msg
}
