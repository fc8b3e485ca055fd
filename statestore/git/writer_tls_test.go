package git

import (
	"errors"
	"testing"

	"kratix.dev/kratix/internal/gitserver"
	"kratix.dev/kratix/statestore"
)

// TestTLSIsVerified checks that https is verified unless the store says insecure, and that a CA
// given as ca.crt is trusted.
func TestTLSIsVerified(t *testing.T) {
	server := gitserver.NewHTTP(t, gitserver.HTTPOptions{TLS: true})
	if _, err := server.CreateRepo("state.git", "main"); err != nil {
		t.Fatal(err)
	}
	auth := Auth{Username: server.Username(), Password: server.Password()}
	cases := []struct {
		name    string
		opts    Options
		wantErr error
	}{
		{"an unknown CA is refused", Options{}, statestore.ErrAuthentication},
		{"the store's CA is trusted", Options{CABundle: server.CAPEM()}, nil},
		{"insecure skips verification when asked for", Options{Insecure: true}, nil},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.URL, tc.opts.Auth = server.URL("state.git"), auth
			w, err := New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			_, err = w.Apply(testContext(t), change("dev/x", "a.yaml", string(rune('a'+i))))
			if tc.wantErr == nil && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != nil && (!errors.Is(err, tc.wantErr) || statestore.Retryable(err)) {
				t.Fatalf("Apply = %v, want a non-retryable %v", err, tc.wantErr)
			}
		})
	}
}
