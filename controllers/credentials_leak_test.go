package controllers

import (
	"fmt"
	"net"
	"strings"
	"testing"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/controllers/writers"
	"kratix.dev/kratix/internal/gitserver"
	"kratix.dev/kratix/statestore"
)

// tokenInURL puts a token as the user of every http URL of a GitStateStore before its writer is
// built: what a store created before the CRD refused credentials in URLs still holds (validation
// ratcheting keeps an unchanged spec.url), and what the API server no longer lets a test create.
type tokenInURL struct {
	next  writers.Factory
	token string
}

func (f tokenInURL) New(store client.Object, secret map[string][]byte) (statestore.Writer, error) {
	if s, ok := store.(*v1alpha1.GitStateStore); ok {
		s = s.DeepCopy()
		s.Spec.URL = strings.Replace(s.Spec.URL, "http://", "http://"+f.token+"@", 1)
		store = s
	}
	return f.next.New(store, secret)
}

// closedAddr is a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// shownTexts is every text the engine showed about the test's objects, by where it was seen.
type shownTexts map[string]string

// addStatus records the condition messages (and reasons) of every state store, Destination, Work
// and WorkPlacement as they are now, under the label when.
func (s shownTexts) addStatus(t *testing.T, when string) {
	t.Helper()
	ctx := t.Context()
	var gits v1alpha1.GitStateStoreList
	var buckets v1alpha1.BucketStateStoreList
	var dests v1alpha1.DestinationList
	var works v1alpha1.WorkList
	var wps v1alpha1.WorkPlacementList
	for _, list := range []client.ObjectList{&gits, &buckets, &dests, &works, &wps} {
		if err := env.Client.List(ctx, list); err != nil {
			t.Fatal(err)
		}
	}
	add := func(kind string, obj metav1.Object, conds []metav1.Condition) {
		for _, c := range conds {
			s[fmt.Sprintf("%s: %s %s/%s condition %s", when, kind, obj.GetNamespace(), obj.GetName(), c.Type)] = c.Reason + ": " + c.Message
		}
	}
	for _, o := range gits.Items {
		add("GitStateStore", &o, o.Status.Conditions)
	}
	for _, o := range buckets.Items {
		add("BucketStateStore", &o, o.Status.Conditions)
	}
	for _, o := range dests.Items {
		add("Destination", &o, o.Status.Conditions)
	}
	for _, o := range works.Items {
		add("Work", &o, o.Status.Conditions)
	}
	for _, o := range wps.Items {
		add("WorkPlacement", &o, o.Status.Conditions)
	}
}

// addEvents records every Event of every namespace.
func (s shownTexts) addEvents(t *testing.T) {
	t.Helper()
	var list eventsv1.EventList
	if err := env.Client.List(t.Context(), &list); err != nil {
		t.Fatal(err)
	}
	for _, e := range list.Items {
		s[fmt.Sprintf("Event %s/%s about %s %s", e.Namespace, e.Name, e.Regarding.Kind, e.Regarding.Name)] = e.Reason + " " + e.Action + ": " + e.Note
	}
}

// check fails the test for every text that holds one of the secrets, and for every want that no
// text names: a sign that the failures the test provokes were not seen at all.
func (s shownTexts) check(t *testing.T, secrets, wants []string) {
	t.Helper()
	for where, text := range s {
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("%s shows a credential: %s", where, text)
			}
		}
	}
	for _, want := range wants {
		named := false
		for _, text := range s {
			named = named || strings.Contains(text, want)
		}
		if !named {
			t.Errorf("no condition, Event or commit names %s: the test did not see what it provoked", want)
		}
	}
}

// The credentials of a Git state store never show: not in the manager's log, the Events, the
// conditions of stores, Destinations, Works and WorkPlacements, nor the repository's commits,
// through writes that succeed, a Git server that goes away under a ready store, and a store that
// never reaches its server. The store's Secret has a recognisable password, and its writers see a
// URL with a token as its user (tokenInURL), which every error of a request quotes unless the
// writer keeps it out.
func TestCredentialsNeverLeak(t *testing.T) {
	const password = "pw-Open-Sesame-4f1a9c"
	const token = "ghp_T0kenInTheURL-7d1e2b"
	ns := v1alpha1.DefaultPlatformNS // where Promise-level Works belong
	ensureNamespace(t, ns)
	run := runManagerWith(t, env.Config, Options{DefaultMaxConcurrentReconciles: 2}, managerHooks{
		wrapWriters: func(real writers.Factory) writers.Factory { return tokenInURL{next: real, token: token} },
	})
	server := gitserver.NewHTTP(t, gitserver.HTTPOptions{Username: "kratix", Password: password})
	f := &gitFixture{server: server, repo: "state.git"}
	if _, err := server.CreateRepo(f.repo, "main"); err != nil {
		t.Fatal(err)
	}
	// Registered before the objects, this runs after their cleanups, whose logs it checks too.
	t.Cleanup(func() {
		run.stop()
		log := run.logs.String()
		if strings.HasPrefix(log, "[earlier lines dropped]") {
			t.Error("the manager's log was cut: the test cannot check every line")
		}
		for i, line := range strings.Split(log, "\n") {
			if strings.Contains(line, password) || strings.Contains(line, token) {
				t.Errorf("line %d of the manager's log shows a credential: %s", i+1, line)
			}
		}
		if !strings.Contains(log, server.Addr()) {
			t.Errorf("the manager's log never names the server %s: the failures were not logged", server.Addr())
		}
	})

	secret := basicAuthSecret(t, uniqueName("git-creds"), "kratix", password)
	store := f.gitStore(uniqueName("git"), secret.Name)
	create(t, store)
	waitForCondition(t, store, metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady)

	// A store whose server is not there, and a Destination on it.
	down := f.gitStore(uniqueName("git-down"), secret.Name)
	downAddr := closedAddr(t)
	down.Spec.URL = "http://" + downAddr + "/state.git"
	create(t, down)
	waitForCondition(t, down, metav1.ConditionFalse, v1alpha1.ReasonErrorValidatingPermissions)
	stranded := destination(v1alpha1.KindGitStateStore, down.Name, uniqueName("stranded"))
	create(t, stranded)
	waitForCondition(t, stranded, metav1.ConditionFalse, v1alpha1.ReasonStateStoreNotReady)

	// Writes that succeed: canary files and a placement, in commits.
	selector := map[string]string{"site": uniqueName("leak")}
	dest := readyDestinationOn(t, store, uniqueName("dest"), selector)
	work, wp := writtenWork(t, ns, selector, namespaceManifest("v1"))

	// The server goes away: a write fails, then the store's validation.
	if err := server.Stop(); err != nil {
		t.Fatalf("stop the Git server: %v", err)
	}
	t.Cleanup(func() { _ = server.Restart() }) // the placements' cleanup needs the server
	update(t, work, func(w *v1alpha1.Work) {
		w.Spec.WorkloadGroups = []v1alpha1.WorkloadGroup{rootGroup(t, selector, namespaceManifest("v2"))}
	})
	waitForPlacement(t, wp, v1alpha1.ConditionWriteSucceeded, metav1.ConditionFalse, v1alpha1.ReasonWriteFailed)
	texts := shownTexts{}
	texts.addStatus(t, "after the failed write")
	// A change of the spec has the store validated again, by a new writer.
	update(t, store, func(s *v1alpha1.GitStateStore) { s.Spec.GitAuthor.Email = "kratix@example.com" })
	waitForCondition(t, store, metav1.ConditionFalse, v1alpha1.ReasonErrorValidatingPermissions)
	waitForCondition(t, dest, metav1.ConditionFalse, v1alpha1.ReasonStateStoreNotReady)

	// The API server refuses a URL with a token, and does not repeat it.
	refused := f.gitStore(uniqueName("git-token"), secret.Name)
	refused.Spec.URL = "https://" + token + "@github.com/org/state.git"
	if err := env.Client.Create(t.Context(), refused, client.DryRunAll); err == nil {
		t.Error("the API server accepted a URL with a token")
	} else if strings.Contains(err.Error(), token) {
		t.Errorf("the API server's refusal repeats the token: %v", err)
	}

	texts.addStatus(t, "during the outage")

	if err := server.Restart(); err != nil {
		t.Fatalf("restart the Git server: %v", err)
	}
	waitForCondition(t, store, metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady)
	waitForPlacement(t, wp, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)

	texts.addStatus(t, "after the outage")
	texts.addEvents(t)
	log, err := f.git(t, "log", "--all", "--format=%H %an <%ae> %cn <%ce>%n%B")
	if err != nil {
		t.Fatal(err)
	}
	texts["the repository's commits"] = log
	texts.check(t, []string{password, token}, []string{server.Addr(), downAddr})
}
