package image

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// privateRegistry serves a registry on loopback that answers only the user and password, until
// the test ends, and returns its host.
func privateRegistry(t *testing.T, user, password string) string {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(server.Close)
	return strings.TrimPrefix(server.URL, "http://")
}

// pullSecret is a kubernetes.io/dockerconfigjson Secret for the host, as `kubectl create secret
// docker-registry` writes it.
func pullSecret(t *testing.T, host, user, password string) corev1.Secret {
	t.Helper()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	data, err := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{"auth": auth}}})
	if err != nil {
		t.Fatal(err)
	}
	return corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "regcred", Namespace: "team"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: data}}
}

// TestPrivateImagesNeedTheirPullSecret: a private image pulls with its imagePullSecret, and
// without it fails with a PullError whose cause is the registry's refusal.
func TestPrivateImagesNeedTheirPullSecret(t *testing.T) {
	host := privateRegistry(t, "robot", "s3cret-token")
	push(t, host+"/team/private:v1", imageOf(t, layer(t, file("hello", "private"))), remote.WithAuth(basicAuth("robot", "s3cret-token")))
	cache, err := OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/team/private:v1"

	anonymous, err := Keychain(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cache.Image(t.Context(), ref, corev1.PullAlways, remote.WithAuthFromKeychain(anonymous))
	var pe *PullError
	var te *transport.Error
	if !errors.As(err, &pe) || !errors.As(err, &te) || te.StatusCode != http.StatusUnauthorized {
		t.Errorf("pull without the Secret: %v, want a PullError with the registry's 401", err)
	}

	withSecret, err := Keychain([]corev1.Secret{pullSecret(t, host, "robot", "s3cret-token")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Image(t.Context(), ref, corev1.PullAlways, remote.WithAuthFromKeychain(withSecret)); err != nil {
		t.Errorf("pull with the Secret: %v", err)
	}

	if _, err := Keychain([]corev1.Secret{{ObjectMeta: metav1.ObjectMeta{Name: "opaque"}, Type: corev1.SecretTypeOpaque}}); err == nil {
		t.Error("an Opaque Secret was taken for a pull Secret")
	}
}
