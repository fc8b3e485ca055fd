package faults

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/controllers"
)

const (
	// serverDownFor is how long scenarios (a) and (f) keep the Git or S3 server down.
	serverDownFor = 30 * time.Second
	// externalPushes is how many commits someone else pushes during scenario (b)'s rewrite.
	externalPushes = 4
)

// result is one scenario's row of the table.
type result struct {
	scenario string
	n        int
	// readyAtFault is how many placements were written when the fault began.
	readyAtFault int
	// lost is the number of Works whose file is not on main at the end; -1 when unknown.
	lost int
	// converged is the time from the end of the fault until everything was written; zero when
	// it never was.
	converged time.Duration
	lied      string
}

// results collects the rows of the scenarios that ran.
var results struct {
	mu   sync.Mutex
	rows []result
}

// record adds a row to the table and logs it.
func record(t *testing.T, res result) {
	t.Helper()
	converged := "did not converge"
	if res.converged > 0 {
		converged = res.converged.Round(100 * time.Millisecond).String()
	}
	t.Logf("| %s | N=%d | ready at fault %d | lost %d | converged in %s | lied: %s |",
		res.scenario, res.n, res.readyAtFault, res.lost, converged, res.lied)
	results.mu.Lock()
	defer results.mu.Unlock()
	results.rows = append(results.rows, res)
}

// table is the markdown table of the recorded rows.
func table() string {
	results.mu.Lock()
	defer results.mu.Unlock()
	var b strings.Builder
	b.WriteString("| scenario | N | ready at fault | writes lost | converge after fault | status lied |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, r := range results.rows {
		converged := "did not converge"
		if r.converged > 0 {
			converged = r.converged.Round(100 * time.Millisecond).String()
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s | %s |\n", r.scenario, r.n, r.readyAtFault, r.lost, converged, r.lied)
	}
	return b.String()
}

// scenario is one fault run: the rig it runs on, its auditor and the row it fills in.
type scenario struct {
	r          *rig
	audit      *auditor
	res        result
	faultBegan time.Time
}

// startScenario builds a rig with opts, starts its auditor and puts n Works in flight. The
// scenario's row is recorded when the test ends, whether it passed or not.
func startScenario(t *testing.T, name string, opts rigOptions) *scenario {
	t.Helper()
	s := newScenario(t, name, opts)
	s.putWorks(t, s.res.n)
	return s
}

// newScenario builds a rig with opts and starts its auditor; putWorks puts the Works in flight.
func newScenario(t *testing.T, name string, opts rigOptions) *scenario {
	t.Helper()
	opts.controllers.DefaultMaxConcurrentReconciles = 4
	s := &scenario{r: newRig(t, opts), res: result{scenario: name, n: placements(t), lost: -1}}
	s.audit = s.r.audit(t)
	return s
}

// putWorks puts n of the scenario's Works in flight (addWorks adds the others) and has its row
// recorded when the test ends, whether it passed or not.
func (s *scenario) putWorks(t *testing.T, n int) {
	t.Helper()
	s.r.putWorks(t, n)
	// Registered after the Works' cleanup, so it runs before it: the row is complete before the
	// Works go.
	t.Cleanup(func() { s.finish(t) })
}

// waitWritten waits until at least want placements are written and returns how many are.
func (s *scenario) waitWritten(t *testing.T, want int) int {
	t.Helper()
	var got int
	eventually(t, fmt.Sprintf("%d placements written", want), convergeTimeout, func() error {
		wps, err := s.r.placementsOf(t.Context())
		if err != nil {
			return err
		}
		got = 0
		for _, wp := range wps {
			if placementReady(wp) {
				got++
			}
		}
		if got < want {
			return fmt.Errorf("%d of %d written", got, len(s.r.works))
		}
		return nil
	})
	return got
}

// faultBegins notes the start of the fault and how many placements were written then.
func (s *scenario) faultBegins(t *testing.T, written int) {
	t.Helper()
	s.faultBegan = time.Now()
	s.res.readyAtFault = written
	t.Logf("%s: the fault begins with %d of %d placements written", s.res.scenario, written, s.res.n)
}

// converge waits, from the end of the fault, until every placement is Ready with its Work's
// content, its file holds that content in the store (on main, for Git) and its version does not
// lie (audit_test.go), and records how long that took.
func (s *scenario) converge(t *testing.T, faultEnded time.Time) {
	t.Helper()
	eventually(t, "every placement written", convergeTimeout, func() error {
		snap, err := s.r.take(t.Context())
		if err != nil {
			return err
		}
		if lost := s.r.lost(snap); len(lost) > 0 {
			return fmt.Errorf("%d files not in the store with their Work's content, e.g. %s", len(lost), lost[0])
		}
		var notReady []string
		for _, w := range s.r.works {
			wp, ok := snap.placements[w.Name]
			switch {
			case !ok:
				notReady = append(notReady, w.Name+": no placement")
			case !placementReady(wp):
				notReady = append(notReady, fmt.Sprintf("%s: %s", w.Name, readiness(wp)))
			default:
				if content, err := specContent(&wp); err != nil || !bytes.Equal(content, s.r.content[w.Name]) {
					notReady = append(notReady, w.Name+": not yet at its Work's content")
				}
			}
		}
		if len(notReady) > 0 {
			return fmt.Errorf("%d placements not Ready, e.g. %s", len(notReady), notReady[0])
		}
		liars, err := s.r.liars(t.Context(), snap, s.audit.cache)
		if err != nil {
			return err
		}
		if len(liars) > 0 {
			names := make([]string, 0, len(liars))
			for name := range liars {
				names = append(names, name)
			}
			sort.Strings(names)
			return fmt.Errorf("%d placements lie, e.g. %s: %s", len(liars), names[0], liars[names[0]])
		}
		return nil
	})
	s.res.converged = time.Since(faultEnded)
}

// finish stops the auditor, counts the lost writes and records the row.
func (s *scenario) finish(t *testing.T) {
	t.Helper()
	s.audit.stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if snap, err := s.r.take(ctx); err != nil {
		t.Errorf("read the final state: %v", err)
	} else {
		lost := s.r.lost(snap)
		s.res.lost = len(lost)
		if len(lost) > 0 {
			t.Errorf("%d writes lost: %v", len(lost), lost)
		}
	}
	since := s.faultBegan
	if since.IsZero() {
		since = time.Now()
	}
	s.res.lied = s.audit.verdict(since)
	if s.audit.errs > 0 {
		t.Logf("the auditor failed to read the state %d times", s.audit.errs)
	}
	record(t, s.res)
}

// TestFaults runs each fault against N placements in flight and prints a table: the writes lost
// (must be none), the time to converge after the fault ended, and whether any placement's status
// claimed a version that the branch did not hold.
func TestFaults(t *testing.T) {
	t.Run("a git server down", testServerDown)
	t.Run("b external commits during a Promise update", testExternalCommits)
	t.Run("c branch deleted", testBranchDeleted)
	t.Run("d files deleted on the remote", testFilesDeleted)
	t.Run("e manager killed", testManagerKilled)
	t.Run("f s3 down", testS3Down)
	t.Run("g destination deleted, cleanup none", func(t *testing.T) { testDestinationDeleted(t, v1alpha1.DestinationCleanupNone) })
	t.Run("g destination deleted, cleanup all", func(t *testing.T) { testDestinationDeleted(t, v1alpha1.DestinationCleanupAll) })
	t.Run("h api server down", testAPIServerDown)
	t.Logf("fault suite results:\n%s", table())
}

// testServerDown stops the Git server for serverDownFor while the Works are being written.
func testServerDown(t *testing.T) {
	s := startScenario(t, "(a) git server down 30s", rigOptions{})
	// Should the test stop early, the cleanups still need the server; Restart fails harmlessly
	// when it is running.
	t.Cleanup(func() { _ = s.r.server.Restart() })
	s.faultBegins(t, s.waitWritten(t, 1))
	if err := s.r.server.Stop(); err != nil {
		t.Fatalf("stop the Git server: %v", err)
	}
	time.Sleep(serverDownFor) // the one timed fault window
	if err := s.r.server.Restart(); err != nil {
		t.Fatalf("restart the Git server: %v", err)
	}
	s.converge(t, time.Now())
}

// testExternalCommits rewrites every Work, as a Promise update would, and pushes unrelated
// commits to the branch by hand, one after each third of the Works is updated and one more at
// the end, while the engine writes them. The engine must replay its writes on the moving branch:
// nothing of its own lost, every commit of the other pusher kept (main only ever moves forward,
// which the reflog shows), and every placement ends with the new content's version.
func testExternalCommits(t *testing.T) {
	s := startScenario(t, "(b) external commits during a Promise update", rigOptions{controllers: controllers.Options{GitHeadCheckInterval: 500 * time.Millisecond}})
	// Every update of main leaves a line in its reflog, whoever pushed it, so a push that is not
	// a fast-forward shows.
	if _, err := s.r.git(t.Context(), "config", "core.logAllRefUpdates", "always"); err != nil {
		t.Fatal(err)
	}
	s.faultBegins(t, s.waitWritten(t, s.res.n))

	const pushes = externalPushes
	var commits, files []string
	push := func() {
		file := fmt.Sprintf("external/note-%d.txt", len(files))
		commits = append(commits, s.r.byHand(t, "someone else's change "+file, func(work string, run func(args ...string) error) error {
			if err := os.MkdirAll(filepath.Join(work, "external"), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(work, file), []byte(file+"\n"), 0o644); err != nil {
				return err
			}
			return run("-C", work, "add", file)
		}))
		files = append(files, file)
	}
	works := s.r.works
	rewrite := time.Now()
	for i := range pushes - 1 {
		s.r.rewriteWorks(t, works[i*len(works)/(pushes-1):(i+1)*len(works)/(pushes-1)], 2)
		push()
	}
	push()
	t.Logf("pushed %d commits by hand during the rewrite, the last %.1fs after it began", len(commits), time.Since(rewrite).Seconds())
	s.converge(t, time.Now())
	t.Logf("the rewrite converged %.1fs after it began", time.Since(rewrite).Seconds())

	snap, err := s.r.take(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for i, file := range files {
		if snap.files[file] != s.r.contentID([]byte(file+"\n")) {
			t.Errorf("%s, pushed by hand, is not on main", file)
		}
		if _, err := s.r.git(t.Context(), "merge-base", "--is-ancestor", commits[i], "main"); err != nil {
			t.Errorf("commit %.12s, pushed by hand, is not in main's history: %v", commits[i], err)
		}
	}
	updates, err := s.r.forcedUpdates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case len(updates.forced) > 0:
		t.Errorf("main was force-pushed %d times of %d updates, e.g. %s", len(updates.forced), updates.total, updates.forced[0])
	case updates.total < pushes:
		t.Errorf("the reflog of main holds %d updates, fewer than the %d pushes by hand", updates.total, pushes)
	default:
		t.Logf("main was updated %d times during the scenario, each a fast-forward", updates.total)
	}
}

// refUpdates are the updates of main that its reflog records.
type refUpdates struct {
	total int
	// forced are the updates whose old head is not in the new one's history, as "old..new".
	forced []string
}

// forcedUpdates reads main's reflog.
func (r *rig) forcedUpdates(ctx context.Context) (refUpdates, error) {
	var out refUpdates
	data, err := os.ReadFile(filepath.Join(r.server.Root(), repoName, "logs", "refs", "heads", "main"))
	if err != nil {
		return out, err
	}
	const none = "0000000000000000000000000000000000000000"
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		out.total++
		oldHead, newHead := fields[0], fields[1]
		if oldHead == none || newHead == none {
			continue
		}
		if _, err := r.git(ctx, "merge-base", "--is-ancestor", oldHead, newHead); err != nil {
			out.forced = append(out.forced, oldHead[:12]+".."+newHead[:12])
		}
	}
	return out, nil
}

// testBranchDeleted deletes the branch on the server while the Works are being written.
func testBranchDeleted(t *testing.T) {
	s := startScenario(t, "(c) branch deleted", rigOptions{controllers: controllers.Options{GitHeadCheckInterval: 500 * time.Millisecond}})
	s.faultBegins(t, s.waitWritten(t, max(1, s.res.n/4)))
	if _, err := s.r.git(t.Context(), "update-ref", "-d", "refs/heads/main"); err != nil {
		t.Fatalf("delete the branch: %v", err)
	}
	s.converge(t, time.Now())
}

// testFilesDeleted removes some written placements' files on the remote by hand while the
// other Works are being written.
func testFilesDeleted(t *testing.T) {
	s := startScenario(t, "(d) files deleted on the remote", rigOptions{controllers: controllers.Options{GitHeadCheckInterval: 500 * time.Millisecond}})
	s.faultBegins(t, s.waitWritten(t, max(1, s.res.n/2)))
	snap, err := s.r.take(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var victims []string
	for name, wp := range snap.placements {
		if placementReady(wp) && snap.files[s.r.files[name]] != "" {
			victims = append(victims, s.r.files[name])
		}
	}
	sort.Strings(victims)
	victims = victims[:min(len(victims), max(1, s.res.n/10))]
	s.r.removeByHand(t, victims...)
	t.Logf("removed %d files by hand", len(victims))
	s.converge(t, time.Now())
}
