// Package fluxe2e runs the engine's output through real Flux: `kratix local` writes into a Git
// state store on the HTTPS Git server (basic auth) and a bucket state store on the S3 server, and
// each Destination is a cluster of its own (an API server) on which Flux's source-controller and
// kustomize-controller, built by `make tools`, apply the Destination's directory with the
// objects the README documents. The tests check what lands on, stays on and leaves the clusters,
// and that every Destination directory is also what Argo CD's recursive directory source takes.
package fluxe2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kratix.dev/kratix/internal/flux"
	"kratix.dev/kratix/internal/gitserver"
	"kratix.dev/kratix/internal/s3server"
)

const (
	updatesDir = "../../examples/updates"
	// waitTimeout bounds each wait for the engine and Flux together.
	waitTimeout = 3 * time.Minute
	bucketName  = "kratix-flux"
	// gitStore and bucketStore are the state stores the test adds to the platform.
	gitStore    = "flux-git"
	bucketStore = "flux-bucket"
	platformNS  = "kratix-platform-system"
)

// stores are the two state stores of the test and the Destinations on each, with their clusters.
type setup struct {
	t        *testing.T
	tools    tools
	platform *platform
	git      *gitserver.HTTPServer
	s3       *s3server.Server
	// clusters by Destination: dev-git and prod-git on the Git store, dev-bucket and
	// prod-bucket on the bucket store.
	clusters map[string]*cluster
}

// TestSeedScenarioThroughFlux runs examples/updates and a resource request through the engine,
// both state stores and Flux on four destination clusters:
//
//   - promise-v1 (environment: dev): Namespace foo appears on both dev clusters;
//   - promise-v2 (environment: prod): bar appears on both prod clusters, and foo stays on the
//     dev clusters (the placement is misscheduled: frozen, still in the store);
//   - deleting the misscheduled WorkPlacements removes foo from the store, and Flux prunes it;
//   - an AppConfig request per store becomes a ConfigMap on that store's dev cluster, changes
//     when the Promise's pipeline changes, and is pruned when the request is deleted.
//
// Before the deletions, every Destination directory of the Git store is checked as Argo CD's
// recursive directory source would take it.
func TestSeedScenarioThroughFlux(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: kratix local, a Git and an S3 server, four API servers with Flux; skipped under -short")
	}
	s := newSetup(t)
	all := []string{"dev-git", "prod-git", "dev-bucket", "prod-bucket"}
	dev := []string{"dev-git", "dev-bucket"}
	prod := []string{"prod-git", "prod-bucket"}

	// Every cluster applies its directory once the engine has written the canary files.
	s.waitAll(all, "Flux applies each Destination's directory", func(c *cluster) error {
		if _, err := c.applied(); err != nil {
			return err
		}
		return c.namespaceExists("kratix-worker-system")
	})

	s.platform.kubectl("", "apply", "-f", filepath.Join(updatesDir, "promise-v1.yaml"))
	s.waitAll(dev, "promise-v1: namespace foo on the dev clusters", func(c *cluster) error { return c.namespaceExists("foo") })
	for _, name := range prod {
		if err := s.clusters[name].namespaceExists("foo"); err == nil {
			t.Errorf("cluster %s has namespace foo, which promise-v1 schedules to dev only", name)
		}
	}

	s.platform.kubectl("", "apply", "-f", filepath.Join(updatesDir, "promise-v2.yaml"))
	s.waitAll(prod, "promise-v2: namespace bar on the prod clusters", func(c *cluster) error { return c.namespaceExists("bar") })
	// The dev clusters have applied the store as it is after the update (each dev cluster
	// shares its store, hence the source revision, with a prod cluster), and foo is still there.
	s.waitAll(dev, "promise-v2: the dev clusters applied the update and keep foo", func(c *cluster) error {
		rev, err := c.applied()
		if err != nil {
			return err
		}
		peer := s.clusters[strings.Replace(c.name, "dev-", "prod-", 1)]
		peerRev, err := peer.applied()
		if err != nil {
			return err
		}
		if rev != peerRev {
			return fmt.Errorf("cluster %s applied %s, %s applied %s", c.name, rev, peer.name, peerRev)
		}
		return c.namespaceExists("foo")
	})
	for _, name := range dev {
		if err := s.clusters[name].namespaceExists("bar"); err == nil {
			t.Errorf("cluster %s has namespace bar, which promise-v2 schedules to prod only", name)
		}
	}
	if got := s.platform.kubectl("", "get", "workplacements", "-A", "-l", "kratix.io/misscheduled=true", "-o", "name"); strings.Count(got, "\n") != 2 {
		t.Errorf("misscheduled WorkPlacements: want the two dev ones, got\n%s", got)
	}

	// A request per store, rendered into a ConfigMap on that store's dev cluster.
	s.applyAppConfigPromise("1")
	for _, store := range []string{"git", "bucket"} {
		s.platform.kubectl(appConfigRequest(store), "apply", "-f", "-")
	}
	s.waitAll(dev, "the requests' ConfigMaps, rendered by version 1", func(c *cluster) error {
		return c.configMapIs("hello-"+storeOf(c.name), "1")
	})
	for _, name := range prod {
		if _, err := s.clusters[name].configMapData("default", "hello-"+storeOf(name)); err == nil {
			t.Errorf("cluster %s has a request's ConfigMap, which the Promise schedules to dev only", name)
		}
	}

	t.Run("argocd-directory-source", func(t *testing.T) { s.checkArgoCDDirectories(t) })

	s.applyAppConfigPromise("2")
	s.waitAll(dev, "the Promise update re-renders the ConfigMaps (version 2)", func(c *cluster) error {
		return c.configMapIs("hello-"+storeOf(c.name), "2")
	})

	s.platform.kubectl("", "delete", "workplacements", "-A", "-l", "kratix.io/misscheduled=true")
	s.waitAll(dev, "deleting the misscheduled WorkPlacements prunes foo", func(c *cluster) error { return c.namespaceGone("foo") })
	s.waitAll(prod, "bar stays on the prod clusters", func(c *cluster) error {
		if _, err := c.applied(); err != nil {
			return err
		}
		return c.namespaceExists("bar")
	})

	s.platform.kubectl("", "delete", "appconfigs", "--all", "-n", "default", "--wait=true", "--timeout=3m")
	s.waitAll(dev, "deleting the requests prunes their ConfigMaps", func(c *cluster) error {
		if _, err := c.configMapData("default", "hello-"+storeOf(c.name)); err == nil {
			return fmt.Errorf("cluster %s: the ConfigMap of hello-%s is still there", c.name, storeOf(c.name))
		}
		return nil
	})
}

// newSetup starts everything: the Git and S3 servers, kratix local with a store on each, the
// four clusters with their Flux, and the four Destinations.
func newSetup(t *testing.T) *setup {
	t.Helper()
	s := &setup{t: t, tools: findTools(t)}
	begin := time.Now()
	s.git = gitserver.NewHTTP(t, gitserver.HTTPOptions{TLS: true})
	if _, err := s.git.CreateRepo("state.git", "main"); err != nil {
		t.Fatal(err)
	}
	s.s3 = s3server.New(t)
	if err := s.s3.CreateBucket(withTimeout(t, 30*time.Second), bucketName); err != nil {
		t.Fatal(err)
	}

	// The platform and the clusters start side by side.
	s.platform = launchPlatform(t, s.tools)
	clusters := startClusters(t, "dev-git", "prod-git", "dev-bucket", "prod-bucket")
	s.platform.waitReady()
	t.Logf("the platform and four API servers started in %s", time.Since(begin).Round(100*time.Millisecond))

	s.clusters = map[string]*cluster{}
	for _, c := range clusters {
		s.clusters[c.name] = c
		dest := flux.Destination{Path: c.name}
		if storeOf(c.name) == "git" {
			dest.Git = &flux.GitSource{URL: s.git.URL("state.git"), Username: s.git.Username(), Password: s.git.Password(), CAPEM: s.git.CAPEM()}
		} else {
			dest.Bucket = &flux.BucketSource{Endpoint: s.s3.Endpoint, BucketName: bucketName, Insecure: true, AccessKey: s.s3.AccessKey, SecretKey: s.s3.SecretKey}
		}
		c.startFlux(t, s.tools, dest)
	}

	s.platform.kubectl(s.storesAndDestinations(), "apply", "-f", "-")
	s.platform.kubectl("", "wait", "--for=condition=Ready", "--timeout=3m", "destinations/dev-git", "destinations/prod-git", "destinations/dev-bucket", "destinations/prod-bucket")
	t.Logf("set up in %s", time.Since(begin).Round(100*time.Millisecond))
	return s
}

// storeOf is the store of a Destination's name: git or bucket.
func storeOf(destination string) string {
	_, store, _ := strings.Cut(destination, "-")
	return store
}

// storesAndDestinations are the manifests of the two stores, their Secrets and the four
// Destinations, labelled with their environment and store.
func (s *setup) storesAndDestinations() string {
	indent := func(pem []byte) string {
		return "    " + strings.ReplaceAll(strings.TrimSpace(string(pem)), "\n", "\n    ")
	}
	docs := []string{
		fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: %[1]s, namespace: %[2]s}
stringData:
  username: %[3]s
  password: %[4]s
  ca.crt: |
%[5]s
`, gitStore, platformNS, s.git.Username(), s.git.Password(), indent(s.git.CAPEM())),
		fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: %[1]s}
spec:
  url: %[2]s
  branch: main
  secretRef: {name: %[1]s, namespace: %[3]s}
`, gitStore, s.git.URL("state.git"), platformNS),
		fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: %[1]s, namespace: %[2]s}
stringData: {accessKeyID: %[3]s, secretAccessKey: %[4]s}
`, bucketStore, platformNS, s.s3.AccessKey, s.s3.SecretKey),
		fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: BucketStateStore
metadata: {name: %[1]s}
spec:
  endpoint: %[2]s
  bucketName: %[3]s
  insecure: true
  secretRef: {name: %[1]s, namespace: %[4]s}
`, bucketStore, s.s3.Endpoint, bucketName, platformNS),
	}
	for _, name := range []string{"dev-git", "prod-git", "dev-bucket", "prod-bucket"} {
		env, store, _ := strings.Cut(name, "-")
		kind, storeName := "GitStateStore", gitStore
		if store == "bucket" {
			kind, storeName = "BucketStateStore", bucketStore
		}
		docs = append(docs, fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata:
  name: %[1]s
  labels: {environment: %[2]s, store: %[3]s}
spec:
  path: %[1]s
  stateStoreRef: {kind: %[4]s, name: %[5]s}
`, name, env, store, kind, storeName))
	}
	return strings.Join(docs, "---\n")
}

// applyAppConfigPromise applies testdata/appconfig-promise.yaml with the pipeline's render
// version, and waits until the Promise is Available.
func (s *setup) applyAppConfigPromise(version string) {
	s.t.Helper()
	data, err := os.ReadFile("testdata/appconfig-promise.yaml")
	if err != nil {
		s.t.Fatal(err)
	}
	s.platform.kubectl(strings.ReplaceAll(string(data), "RENDER_VERSION_VALUE", version), "apply", "-f", "-")
	s.platform.kubectl("", "wait", "--for=condition=Available", "--timeout=3m", "promise/appconfig")
}

func appConfigRequest(store string) string {
	return fmt.Sprintf(`apiVersion: example.platform.io/v1
kind: AppConfig
metadata: {name: hello-%[1]s, namespace: default}
spec: {greeting: hi, store: %[1]s}
`, store)
}

// configMapIs is nil once the request's ConfigMap on the cluster was rendered by version.
func (c *cluster) configMapIs(name, version string) error {
	data, err := c.configMapData("default", name)
	if err != nil {
		return err
	}
	if data["renderVersion"] != version || data["greeting"] != "hi" {
		return fmt.Errorf("cluster %s: ConfigMap default/%s holds %v, want greeting hi, renderVersion %s", c.name, name, data, version)
	}
	return nil
}

// waitAll waits until check passes on each of the named clusters, failing at once if a Flux
// controller or the platform stops.
func (s *setup) waitAll(names []string, what string, check func(*cluster) error) {
	s.t.Helper()
	eventually(s.t, what, waitTimeout, s.exitError, func() error {
		var errs []error
		for _, name := range names {
			errs = append(errs, check(s.clusters[name]))
		}
		return errors.Join(errs...)
	})
}

func (s *setup) exitError() error {
	select {
	case <-s.platform.exited:
		return fmt.Errorf("kratix local exited: %v", s.platform.err)
	default:
	}
	for _, c := range s.clusters {
		if err := c.exitError(); err != nil {
			return err
		}
	}
	return nil
}

// checkArgoCDDirectories checks every Destination directory of the Git store as an Argo CD
// Application with `directory: {recurse: true}` takes it: no kustomization file (which would
// make Argo CD build it with kustomize instead), and every manifest file under it, recursively,
// accepted by the Destination's cluster in a server-side dry run (kubectl apply -R, which picks
// the .yaml, .yml and .json files as Argo CD does).
func (s *setup) checkArgoCDDirectories(t *testing.T) {
	checkout := filepath.Join(t.TempDir(), "state")
	clone := exec.Command("git", "clone", "--quiet", "--branch", "main", filepath.Join(s.git.Root(), "state.git"), checkout)
	clone.Env = gitserver.GitEnv(t.TempDir())
	if out, err := clone.CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	for _, name := range []string{"dev-git", "prod-git"} {
		dir := filepath.Join(checkout, name)
		manifests := 0
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch base := d.Name(); {
			case base == "kustomization.yaml" || base == "kustomization.yml" || base == "Kustomization":
				t.Errorf("%s: a kustomization file makes Argo CD build the directory with kustomize", path)
			case strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml") || strings.HasSuffix(base, ".json"):
				manifests++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if manifests == 0 {
			t.Errorf("%s holds no manifest", dir)
			continue
		}
		c := s.clusters[name]
		out, err := runKubectl(s.tools.kubectl, c.env.Kubeconfig(), t.TempDir(), "", "apply", "--dry-run=server", "--server-side", "--field-manager=argocd-controller", "-R", "-f", dir)
		if err != nil {
			t.Errorf("%s: kubectl apply --dry-run=server -R -f %s: %v\n%s", name, dir, err, out)
			continue
		}
		t.Logf("%s: %d manifests, as Argo CD's directory source applies them:\n%s", name, manifests, strings.TrimSpace(out))
	}
}
