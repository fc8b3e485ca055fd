package git

import (
	"errors"
	"strings"
	"testing"

	"kratix.dev/kratix/internal/gitserver"
	"kratix.dev/kratix/statestore"
)

func TestSSH(t *testing.T) {
	server := gitserver.NewSSH(t, gitserver.SSHOptions{})
	if _, err := server.CreateRepo("state.git", "main"); err != nil {
		t.Fatal(err)
	}
	other := gitserver.NewSSH(t, gitserver.SSHOptions{}) // a different host key
	ctx := testContext(t)

	cases := []struct {
		name       string
		knownHosts string
		key        []byte
		wantErr    error
	}{
		{"known host and authorised key", server.KnownHosts(), server.ClientKeyPEM(), nil},
		{"the host key is not the known one", strings.Replace(other.KnownHosts(), other.Addr(), server.Addr(), 1), server.ClientKeyPEM(), statestore.ErrAuthentication},
		{"another host's entry only", other.KnownHosts(), server.ClientKeyPEM(), statestore.ErrAuthentication},
		{"a key the server does not know", server.KnownHosts(), other.ClientKeyPEM(), statestore.ErrAuthentication},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := New(Options{URL: server.URL("state.git"), Auth: Auth{SSHPrivateKey: tc.key, SSHKnownHosts: []byte(tc.knownHosts)}})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			res, err := w.Apply(ctx, change("dev/resources/x", "a.yaml", "over ssh"))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || statestore.Retryable(err) {
					t.Fatalf("Apply = %v, want a non-retryable %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out, err := server.Git(ctx, "state.git", "show", "main:dev/resources/x/a.yaml")
			if err != nil || out != "over ssh" {
				t.Fatalf("git show = %q, %v", out, err)
			}
			if head, _ := server.Git(ctx, "state.git", "rev-parse", "main"); strings.TrimSpace(head) != res.Version {
				t.Errorf("version %s, main at %s", res.Version, head)
			}
			if err := w.Validate(ctx); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}
