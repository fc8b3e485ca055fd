package localplatform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/controllers"
	"kratix.dev/kratix/internal/flux"
	"kratix.dev/kratix/internal/gitserver"
)

// GitOpsInterval is how often, with Options.GitOps, Flux looks at the state repository and
// applies the Destination local.
const GitOpsInterval = 10 * time.Second

// gitOpsUser is the user name of the state repository's HTTPS server.
const gitOpsUser = "flux"

// gitops is what Options.GitOps runs: the state repository served over HTTPS on loopback (Flux
// reads Git over http, https or ssh only), and Flux's controllers applying the Destination local
// to the platform's own API server.
type gitops struct {
	server *gitserver.HTTPServer
	ctrl   *flux.Controllers
}

// startGitOps serves the state repository, installs Flux's CRDs, starts its controllers and
// creates the GitRepository and the two Kustomizations of the Destination local.
func (p *platform) startGitOps(ctx context.Context) error {
	password, err := gitOpsPassword(p.dirs.path("flux", "git-password"))
	if err != nil {
		return err
	}
	logFile, err := openLog(filepath.Join(p.dirs.logs(), "git-http.log"))
	if err != nil {
		return err
	}
	server, err := serveStateRepository(p.dirs, password, logFile)
	if err != nil {
		return errors.Join(fmt.Errorf("serve the state repository over HTTPS: %w", err), logFile.Close())
	}
	p.gitops = &gitops{server: server}
	p.gitopsLog = logFile

	scheme, err := controllers.NewScheme()
	if err != nil {
		return err
	}
	cfg := rest.CopyConfig(p.plane.config)
	cfg.QPS, cfg.Burst = 100, 200
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	if err := flux.Install(ctx, c, p.fluxBin.CRDDir); err != nil {
		return fmt.Errorf("install Flux's CRDs: %w", err)
	}
	ctrl, err := flux.Start(flux.Options{
		Binaries:          p.fluxBin,
		Kubeconfig:        p.dirs.kubeconfig(),
		Dir:               p.dirs.path("flux"),
		LogDir:            p.dirs.logs(),
		RequeueDependency: 2 * time.Second,
	})
	if err != nil {
		return err
	}
	p.gitops.ctrl = ctrl
	objs, err := flux.DestinationObjects(flux.Destination{
		Git: &flux.GitSource{
			URL: server.URL("state.git"), Username: gitOpsUser, Password: password, CAPEM: server.CAPEM(),
		},
		Path:     DestinationName,
		Interval: GitOpsInterval,
	})
	if err != nil {
		return err
	}
	return flux.Apply(ctx, c, objs)
}

// serveStateRepository serves state.git over HTTPS on loopback, with a CA made at each start, to
// the password's holder alone, for fetching. The server's root is a directory of the data
// directory that holds a link to state.git and nothing else: the data directory itself holds
// other repositories too (a pipeline's job directory may hold any), and git http-backend serves
// every repository under its root. Pushes are refused: Flux only fetches, and the engine writes
// the repository on disk, so whoever reads Flux's Secret (flux-system/kratix-state-store) gets no way to
// write what Flux applies.
func serveStateRepository(dirs layout, password string, log io.Writer) (*gitserver.HTTPServer, error) {
	root := dirs.path("flux", "git-root")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	link := filepath.Join(root, "state.git")
	if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	target, err := filepath.Rel(root, dirs.repository())
	if err != nil {
		return nil, err
	}
	if err := os.Symlink(target, link); err != nil {
		return nil, err
	}
	return gitserver.StartHTTP(gitserver.HTTPOptions{
		Dir: root, Username: gitOpsUser, Password: password, TLS: true, Log: log,
		GitConfig: []string{"http.receivepack=false"},
	})
}

// stop stops Flux's controllers, then the Git server.
func (g *gitops) stop(timeout time.Duration) error {
	if g == nil {
		return nil
	}
	var errs []error
	if g.ctrl != nil {
		errs = append(errs, g.ctrl.Stop(timeout))
	}
	if g.server != nil {
		errs = append(errs, g.server.Close())
	}
	return errors.Join(errs...)
}

func (g *gitops) exitError() error {
	if g == nil || g.ctrl == nil {
		return nil
	}
	return g.ctrl.ExitError()
}

// gitOpsPassword reads the Git server's password from path, or makes a random one and keeps it
// there, readable by its owner only: other users of the machine reach loopback ports too.
func gitOpsPassword(path string) (string, error) {
	if data, err := os.ReadFile(path); err == nil {
		if pw := strings.TrimSpace(string(data)); pw != "" {
			return pw, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	pw := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("keep the Git server's password: %w", err)
	}
	return pw, nil
}
