package faults

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// apiServerDownFor is how long scenario (h) keeps the API server down.
const apiServerDownFor = 10 * time.Second

// testManagerKilled runs the engine as its own process, `kratix manager`, holds one of its pushes
// at the Git server, kills the process with SIGKILL while that push is in flight, lets the push
// through to the repository (its sender is dead), and starts a new process, which must write
// whatever the dead one had not and leave no status that lies.
//
// The in-process manager of the other scenarios cannot be killed: cancelling its context is a
// graceful shutdown, which a SIGKILL is not.
func testManagerKilled(t *testing.T) {
	proc := newManagerProcess(t)
	s := startScenario(t, "(e) manager SIGKILLed mid-push, restarted", rigOptions{manager: proc.start})
	s.faultBegins(t, s.waitWritten(t, max(1, s.res.n/4)))

	held, release := make(chan struct{}), make(chan struct{})
	var hold, let sync.Once
	letGo := func() { let.Do(func() { close(release) }) }
	// Stopping the server waits for the held request: let it go whatever happens.
	t.Cleanup(letGo)
	s.r.server.SetIntercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			first := false
			hold.Do(func() { first = true })
			if first {
				close(held)
				<-release
			}
		}
		return false // git http-backend serves it, held or not
	})
	select {
	case <-held:
	case <-time.After(setupTimeout):
		t.Fatal("the manager pushed nothing")
	}
	proc.kill(t)
	t.Log("killed the manager with SIGKILL while the Git server held its push")
	s.r.server.SetIntercept(nil)
	letGo()
	proc.start(t)
	s.converge(t, time.Now())
}

// testAPIServerDown stops kube-apiserver, etcd kept running, for apiServerDownFor while the Works
// are being written, then starts it again on the same address; the in-process manager keeps
// running throughout.
func testAPIServerDown(t *testing.T) {
	s := startScenario(t, "(h) API server down 10s", rigOptions{})
	down := false
	// Registered after the scenario's cleanups, so it runs before them: they need the API server.
	t.Cleanup(func() {
		if down {
			if err := env.StartAPIServer(); err != nil {
				t.Errorf("start the API server again: %v", err)
			}
		}
	})
	s.faultBegins(t, s.waitWritten(t, max(1, s.res.n/4)))
	down = true // even if it fails, since it kills a server that does not stop
	if err := env.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Logf("the API server stopped %.1fs after the fault began", time.Since(s.faultBegan).Seconds())
	time.Sleep(apiServerDownFor) // the one timed fault window
	if err := env.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	down = false
	restarted := time.Now()
	s.converge(t, restarted)

	// How soon the engine hears of a new object once the server is back: its informers watch
	// again only when client-go's backoff, which grew while the server was down, lets them.
	late := time.Now()
	s.r.addWorks(t, 1)
	s.waitWritten(t, len(s.r.works))
	t.Logf("a Work created %.1fs after the restart was written %.1fs later", late.Sub(restarted).Seconds(), time.Since(late).Seconds())
}
