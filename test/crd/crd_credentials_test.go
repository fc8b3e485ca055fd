package crd

import (
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/internal/testenv"
)

// TestStoreURLsWithCredentialsAreRefused: a GitStateStore's url and a BucketStateStore's endpoint
// must not hold credentials, which belong in the store's Secret; the refusal says so, points to
// secretRef, and does not repeat the credential. The forms Kratix users write for their
// repositories, ssh users included, are accepted.
func TestStoreURLsWithCredentialsAreRefused(t *testing.T) {
	const secret = "hunter2-secret"
	gitStore := func(url string) string {
		return fmt.Sprintf(`
apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: url-test}
spec:
  url: %q
  secretRef: {name: git-creds}`, url)
	}
	bucketStore := func(endpoint string) string {
		return fmt.Sprintf(`
apiVersion: platform.kratix.io/v1alpha1
kind: BucketStateStore
metadata: {name: endpoint-test}
spec:
  endpoint: %q
  bucketName: kratix
  secretRef: {name: s3-creds}`, endpoint)
	}

	refused := map[string]string{
		"https token user":                gitStore("https://" + secret + "@github.com/org/state.git"),
		"http token user":                 gitStore("http://" + secret + "@127.0.0.1:8080/state.git"),
		"upper-case scheme":               gitStore("HTTPS://" + secret + "@github.com/org/state.git"),
		"https user and password":         gitStore("https://kratix:" + secret + "@git.example.com/state.git"),
		"https password, no user":         gitStore("https://:" + secret + "@git.example.com/state.git"),
		"ssh user and password":           gitStore("ssh://git:" + secret + "@git.example.com/state.git"),
		"scp-like user and password":      gitStore("git:" + secret + "@git.example.com:org/state.git"),
		"password holding an @":           gitStore("https://kratix:" + secret + "@x@git.example.com/state.git"),
		"endpoint with keys":              bucketStore("key:" + secret + "@s3.example.com:9000"),
		"endpoint with a user":            bucketStore(secret + "@s3.example.com"),
		"endpoint with a scheme and keys": bucketStore("https://key:" + secret + "@s3.example.com"),
		"https user with a port, IPv6":    gitStore("https://" + secret + "@[::1]:8443/state.git"),
		"ssh password behind %3A":         gitStore("ssh://git%3A" + secret + "@git.example.com/state.git"),
		"scp-like password with a slash":  gitStore("git:pa/" + secret + "@git.example.com:org/state.git"),
		"token in the query":              gitStore("https://git.example.com/org/state.git?private_token=" + secret),
		"token in the fragment":           gitStore("https://git.example.com/org/state.git#" + secret),
	}
	for name, manifest := range refused {
		t.Run("refused/"+name, func(t *testing.T) {
			err := env.Client.Create(testenv.Context(t), object(t, manifest), client.DryRunAll)
			if err == nil {
				t.Fatal("the API server accepted it")
			}
			if !strings.Contains(err.Error(), "must not hold credentials") || !strings.Contains(err.Error(), "secretRef") {
				t.Errorf("the refusal does not say that credentials belong in the Secret of secretRef:\n%v", err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the refusal repeats the credential:\n%v", err)
			}
		})
	}

	accepted := map[string]string{
		"https":                      gitStore("https://git.example.com/org/state.git"),
		"http on a port":             gitStore("http://127.0.0.1:8080/state.git"),
		"https path with an @":       gitStore("https://git.example.com/org/state@v1.git"),
		"ssh with user git":          gitStore("ssh://git@git.example.com/org/state.git"),
		"ssh with a port":            gitStore("ssh://git@git.example.com:2222/org/state.git"),
		"ssh without user":           gitStore("ssh://git.example.com/org/state.git"),
		"scp-like":                   gitStore("git@github.com:org/state.git"),
		"scp-like, @ in the path":    gitStore("git@github.com:org/state@v1.git"),
		"scp-like without user":      gitStore("github.com:org/state.git"),
		"file":                       gitStore("file:///srv/git/state.git"),
		"endpoint":                   bucketStore("s3.example.com"),
		"endpoint with a port":       bucketStore("127.0.0.1:9000"),
		"upstream quick start gitea": gitStore("https://172.18.0.2:31333/gitea_admin/kratix"),
	}
	for name, manifest := range accepted {
		t.Run("accepted/"+name, func(t *testing.T) {
			if err := env.Client.Create(testenv.Context(t), object(t, manifest), client.DryRunAll); err != nil {
				t.Errorf("refused: %v", err)
			}
		})
	}
}
