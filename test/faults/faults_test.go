package faults

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"kratix.dev/kratix/controllers"
)

// serverDownFor is how long scenario (a) keeps the Git server down.
const serverDownFor = 30 * time.Second

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
func startScenario(t *testing.T, name string, opts controllers.Options) *scenario {
	t.Helper()
	n := placements(t)
	opts.DefaultMaxConcurrentReconciles = 4
	s := &scenario{r: newRig(t, opts), res: result{scenario: name, n: n, lost: -1}}
	s.audit = s.r.audit(t)
	s.r.putWorks(t, n)
	// Registered last, so it runs first of the cleanups: the row is complete before the Works go.
	t.Cleanup(func() { s.finish(t) })
	return s
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

// converge waits, from the end of the fault, until every placement is Ready with its file on main
// and a version that main contains and that holds the file, and records how long that took.
func (s *scenario) converge(t *testing.T, faultEnded time.Time) {
	t.Helper()
	eventually(t, "every placement written", convergeTimeout, func() error {
		snap, err := s.r.take(t.Context())
		if err != nil {
			return err
		}
		if lost := s.r.lost(snap); len(lost) > 0 {
			return fmt.Errorf("%d files not on main, e.g. %s", len(lost), lost[0])
		}
		var notReady []string
		for _, w := range s.r.works {
			if wp, ok := snap.placements[w.Name]; !ok || !placementReady(wp) {
				notReady = append(notReady, w.Name)
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
	t.Run("c branch deleted", testBranchDeleted)
	t.Run("d files deleted on the remote", testFilesDeleted)
	t.Logf("fault suite results:\n%s", table())
}

// testServerDown stops the Git server for serverDownFor while the Works are being written.
func testServerDown(t *testing.T) {
	s := startScenario(t, "(a) git server down 30s", controllers.Options{})
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

// testBranchDeleted deletes the branch on the server while the Works are being written.
func testBranchDeleted(t *testing.T) {
	s := startScenario(t, "(c) branch deleted", controllers.Options{GitHeadCheckInterval: 500 * time.Millisecond})
	s.faultBegins(t, s.waitWritten(t, max(1, s.res.n/4)))
	if _, err := s.r.git(t.Context(), "update-ref", "-d", "refs/heads/main"); err != nil {
		t.Fatalf("delete the branch: %v", err)
	}
	s.converge(t, time.Now())
}

// testFilesDeleted removes some written placements' files on the remote by hand while the
// other Works are being written.
func testFilesDeleted(t *testing.T) {
	s := startScenario(t, "(d) files deleted on the remote", controllers.Options{GitHeadCheckInterval: 500 * time.Millisecond})
	s.faultBegins(t, s.waitWritten(t, max(1, s.res.n/2)))
	snap, err := s.r.take(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var victims []string
	for name, wp := range snap.placements {
		if placementReady(wp) && snap.mainFiles[s.r.files[name]] {
			victims = append(victims, s.r.files[name])
		}
	}
	sort.Strings(victims)
	victims = victims[:min(len(victims), max(1, s.res.n/10))]
	s.r.removeByHand(t, victims...)
	t.Logf("removed %d files by hand", len(victims))
	s.converge(t, time.Now())
}
