package fluxe2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kratix.dev/kratix/internal/localplatform"
)

// TestLocalGitOps runs the README's walkthrough on `kratix local --gitops`, with the Destination
// local labelled dev as the walkthrough says: after promise-v1, `kubectl get namespace foo` finds
// foo on the platform itself, applied by Flux; after promise-v2 it stays; deleting the
// misscheduled WorkPlacement makes Flux prune it. The stop leaves no process behind.
func TestLocalGitOps(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: kratix local --gitops; skipped under -short")
	}
	p := startPlatform(t, findTools(t), "--gitops")
	if out := p.outputText(); !strings.Contains(out, "kratix local: Flux ") {
		t.Errorf("the output does not say that Flux runs:\n%s", out)
	}
	info, err := os.Stat(filepath.Join(p.dataDir, "flux", "git-password"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("flux/git-password has mode %v, want 0600", info.Mode().Perm())
	}
	fatal := func() error {
		select {
		case <-p.exited:
			return fmt.Errorf("kratix local exited: %v", p.err)
		default:
			return nil
		}
	}
	kustomizations := func() error {
		out, err := p.kubectlErr("", "get", "kustomizations.kustomize.toolkit.fluxcd.io", "-n", "flux-system",
			"-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}/{.status.lastAppliedRevision}{"\n"}{end}`)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		// Applied (lastAppliedRevision is set only by a successful apply) and not failing:
		// Ready is Unknown while the next interval's reconciliation runs.
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			name, state, _ := strings.Cut(line, "=")
			ready, revision, _ := strings.Cut(state, "/")
			if ready == "False" || revision == "" {
				return fmt.Errorf("Kustomization %s: Ready %q, last applied %q", name, ready, revision)
			}
		}
		if n := strings.Count(strings.TrimSpace(out), "\n") + 1; n != 2 {
			return fmt.Errorf("Kustomizations: %q", out)
		}
		return nil
	}
	eventually(t, "Flux applies the Destination local (the canary namespace)", 3*time.Minute, fatal, func() error {
		if err := kustomizations(); err != nil {
			return err
		}
		_, err := p.kubectlErr("", "get", "namespace", "kratix-worker-system")
		return err
	})

	p.kubectl("", "label", "destination", localplatform.DestinationName, "environment=dev", "--overwrite")
	p.kubectl("", "apply", "-f", filepath.Join(updatesDir, "promise-v1.yaml"))
	eventually(t, "promise-v1: kubectl get namespace foo", 3*time.Minute, fatal, func() error {
		out, err := p.kubectlErr("", "get", "namespace", "foo")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})

	p.kubectl("", "apply", "-f", filepath.Join(updatesDir, "promise-v2.yaml"))
	eventually(t, "promise-v2: the placement on local is misscheduled", 2*time.Minute, fatal, func() error {
		if out := p.kubectl("", "get", "workplacements", "-A", "-l", "kratix.io/misscheduled=true", "-o", "name"); !strings.Contains(out, ".local") {
			return fmt.Errorf("misscheduled: %q", out)
		}
		return nil
	})
	// Flux has looked again since (two intervals), and foo is still there.
	time.Sleep(2 * localplatform.GitOpsInterval)
	if err := kustomizations(); err != nil {
		t.Error(err)
	}
	p.kubectl("", "get", "namespace", "foo")

	p.kubectl("", "delete", "workplacements", "-A", "-l", "kratix.io/misscheduled=true")
	eventually(t, "deleting the misscheduled WorkPlacement: Flux prunes foo", 3*time.Minute, fatal, func() error {
		out, err := p.kubectlErr("", "get", "namespace", "foo", "-o", "name", "--ignore-not-found")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if strings.TrimSpace(out) != "" {
			return fmt.Errorf("namespace foo is still there")
		}
		return nil
	})

	p.stop()
	if procs := processesOf(p.dataDir); len(procs) > 0 {
		t.Errorf("processes outlived the platform:\n%s", strings.Join(procs, "\n"))
	}
}

// processesOf lists the processes whose command line names dir.
func processesOf(dir string) []string {
	entries, _ := os.ReadDir("/proc") // no /proc: nothing to find
	var out []string
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(dir)) {
			continue
		}
		out = append(out, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return out
}
