// Package kubeconfig finds the API server the engine's commands talk to, the one way for the
// manager and the in-Job adapter: an explicit kubeconfig file, else $KUBECONFIG, the in-cluster
// service account or ~/.kube/config (controller-runtime's order).
package kubeconfig

import (
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
)

// Load returns the API server's address and credentials from the file at path, or, when path is
// empty, from the environment.
func Load(path string) (*rest.Config, error) {
	if path != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, fmt.Errorf("load kubeconfig %s: %w", path, err)
		}
		return cfg, nil
	}
	cfg, err := config.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("find the API server (set --kubeconfig or $KUBECONFIG): %w", err)
	}
	return cfg, nil
}
