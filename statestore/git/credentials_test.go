package git

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"

	"kratix.dev/kratix/internal/gitserver"
	"kratix.dev/kratix/internal/testenv"
	"kratix.dev/kratix/statestore"
)

// A token given as the user of an http URL (https://TOKEN@host/..., the form GitHub documents)
// is sent as basic auth but shows nowhere: not in the errors of a write or a validation that
// cannot reach the server, nor in the writer's logs.
func TestTokenInURLNeverShows(t *testing.T) {
	const token = "ghp_T0kenInTheURL0123456789"
	server := gitserver.NewHTTP(t, gitserver.HTTPOptions{})
	if _, err := server.CreateRepo("state.git", "main"); err != nil {
		t.Fatal(err)
	}
	var logs testenv.LogBuffer
	w, err := New(Options{
		URL:      strings.Replace(server.URL("state.git"), "http://", "http://"+token+"@", 1),
		Auth:     Auth{Username: server.Username(), Password: server.Password()},
		Insecure: true, // basic auth over the loopback server's plain http
		// Every batch compacts the in-memory clone, which the writer logs with its URL.
		CompactBytes: 1,
		Logger:       funcr.New(func(prefix, args string) { fmt.Fprintln(&logs, prefix, args) }, funcr.Options{Verbosity: 10}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	ctx := testContext(t)
	for i := range 2 {
		if _, err := w.Apply(ctx, change(fmt.Sprintf("dev/w%d", i), "a.yaml", "a")); err != nil {
			t.Fatalf("Apply with the token in the URL: %v", err)
		}
	}
	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	var errs []error
	_, err = w.Apply(ctx, change("dev/w2", "a.yaml", "a"))
	errs = append(errs, err)
	errs = append(errs, w.Validate(ctx))
	missing, err := New(Options{URL: "http://" + token + "@" + server.Addr() + "/missing.git", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer missing.Close()
	errs = append(errs, missing.Validate(ctx))

	for _, err := range errs {
		switch {
		case err == nil:
			t.Error("a write to a stopped server succeeded")
		case strings.Contains(err.Error(), token):
			t.Errorf("the error shows the token: %v", err)
		case !strings.Contains(err.Error(), server.Addr()):
			t.Errorf("the error does not name the server %s: %v", server.Addr(), err)
		}
	}
	if !strings.Contains(logs.String(), "compacted the in-memory clone") {
		t.Errorf("the writer did not log its compactions:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), token) {
		t.Errorf("the writer's log shows the token:\n%s", logs.String())
	}
}

// A URL with a password, in any form, is refused without showing the password; a URL that does
// not parse is refused without being shown at all.
func TestURLsWithPasswordsAreRefusedUnshown(t *testing.T) {
	for url, want := range map[string]string{
		"https://user:hunter2-pw@example.com/x.git":    "holds a password",
		"https://:hunter2-pw@example.com/x.git":        "holds a password",
		"ssh://git:hunter2-pw@example.com/x.git":       "holds a password",
		"git:hunter2-pw@example.com:org/x.git":         "holds a password",
		"https://user:hunter2-pw%zz@example.com/x.git": "does not parse",
		"https://user:hunter2-pw@example.com:x/x.git":  "does not parse",
	} {
		w, err := New(Options{URL: url, Auth: Auth{SSHPrivateKey: []byte("key"), SSHKnownHosts: []byte("hosts")}})
		if err == nil {
			w.Close()
			t.Errorf("New(%q) accepted", url)
			continue
		}
		if !errors.Is(err, statestore.ErrInvalidConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("New(%q) = %v, want an invalid configuration that says %q", url, err, want)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("New(%q) shows the password: %v", url, err)
		}
	}
}

// Basic-auth credentials, from the Secret or a token as the URL's user, go over plain http only
// when the store says insecure; an http URL without credentials sends nothing secret, and https
// needs no permission.
func TestCredentialsOverPlainHTTPNeedInsecure(t *testing.T) {
	basic := Auth{Username: "kratix", Password: "hunter2-pw"}
	cases := []struct {
		name    string
		opts    Options
		refused bool
	}{
		{"http with the Secret's credentials", Options{URL: "http://git.example.com/x.git", Auth: basic}, true},
		{"http with a password only", Options{URL: "http://git.example.com/x.git", Auth: Auth{Password: "hunter2-pw"}}, true},
		{"http with a token as the URL's user", Options{URL: "http://hunter2-token@git.example.com/x.git"}, true},
		{"upper-case HTTP", Options{URL: "HTTP://git.example.com/x.git", Auth: basic}, true},
		{"http with credentials and insecure", Options{URL: "http://git.example.com/x.git", Auth: basic, Insecure: true}, false},
		{"http without credentials", Options{URL: "http://git.example.com/x.git"}, false},
		{"https with credentials", Options{URL: "https://git.example.com/x.git", Auth: basic}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := New(tc.opts)
			if err == nil {
				defer w.Close()
			}
			switch {
			case tc.refused && (!errors.Is(err, ErrCredentialsOverHTTP) || !errors.Is(err, statestore.ErrInvalidConfig)):
				t.Errorf("New = %v, want an invalid configuration for credentials over http", err)
			case !tc.refused && err != nil:
				t.Errorf("New = %v, want a writer", err)
			case err != nil && strings.Contains(err.Error(), "hunter2"):
				t.Errorf("the refusal shows a credential: %v", err)
			}
		})
	}
}
