package image

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
)

// Keychain finds a registry's credentials as a kubelet does for a Pod: in its imagePullSecrets
// (kubernetes.io/dockerconfigjson or the older kubernetes.io/dockercfg) first, then in the
// invoking user's Docker config (~/.docker/config.json and its credential helpers); anonymous
// when none has any.
func Keychain(pullSecrets []corev1.Secret) (authn.Keychain, error) {
	secrets := secretKeychain{}
	for _, s := range pullSecrets {
		auths, err := dockerAuths(s)
		if err != nil {
			return nil, fmt.Errorf("image pull Secret %s/%s: %w", s.Namespace, s.Name, err)
		}
		for host, cfg := range auths {
			if _, seen := secrets[host]; !seen {
				secrets[host] = cfg // the first Secret that names a registry wins, as for a kubelet
			}
		}
	}
	return authn.NewMultiKeychain(secrets, authn.DefaultKeychain), nil
}

// dockerAuth is one registry's entry of a Docker config.
type dockerAuth struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// dockerAuths reads the registries' credentials of a pull Secret, by registry host.
func dockerAuths(s corev1.Secret) (map[string]authn.AuthConfig, error) {
	var entries map[string]dockerAuth
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
		var cfg struct {
			Auths map[string]dockerAuth `json:"auths"`
		}
		if err := json.Unmarshal(s.Data[corev1.DockerConfigJsonKey], &cfg); err != nil {
			return nil, fmt.Errorf("%s is not a Docker config: %w", corev1.DockerConfigJsonKey, err)
		}
		entries = cfg.Auths
	case corev1.SecretTypeDockercfg:
		if err := json.Unmarshal(s.Data[corev1.DockerConfigKey], &entries); err != nil {
			return nil, fmt.Errorf("%s is not a Docker config: %w", corev1.DockerConfigKey, err)
		}
	default:
		return nil, fmt.Errorf("type %s is not an image pull Secret's (%s)", s.Type, corev1.SecretTypeDockerConfigJson)
	}
	out := make(map[string]authn.AuthConfig, len(entries))
	for key, e := range entries {
		cfg := authn.AuthConfig{Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken, RegistryToken: e.RegistryToken}
		if e.Auth != "" {
			decoded, err := base64.StdEncoding.DecodeString(e.Auth)
			if err != nil {
				return nil, fmt.Errorf("the auth of %s is not base64", key)
			}
			user, pass, ok := strings.Cut(string(decoded), ":")
			if !ok {
				return nil, fmt.Errorf("the auth of %s is not user:password", key)
			}
			cfg.Username, cfg.Password = user, pass
		}
		out[registryHost(key)] = cfg
	}
	return out, nil
}

// registryHost is the host[:port] of a Docker config key, which may be a URL
// ("https://index.docker.io/v1/") or a host with a path.
func registryHost(key string) string {
	key = strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	host, _, _ := strings.Cut(key, "/")
	if host == "index.docker.io" || host == "registry-1.docker.io" {
		return "index.docker.io"
	}
	return host
}

// secretKeychain holds the credentials of pull Secrets by registry host.
type secretKeychain map[string]authn.AuthConfig

// Resolve implements authn.Keychain.
func (k secretKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	if cfg, ok := k[target.RegistryStr()]; ok {
		return authn.FromConfig(cfg), nil
	}
	return authn.Anonymous, nil
}
