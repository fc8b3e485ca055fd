package cli

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
)

// TestErrorsAreSafeToPrint: the text of a command's error goes to the terminal as it is (kratix
// prints it on standard error), and part of it comes from people the reader does not trust: here
// a Git server that refuses the clone with a body of escape sequences, which go-git puts in its
// error. The error's text shows them escaped; the error still says what happened.
func TestErrorsAreSafeToPrint(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte("\x1b]0;owned\x07\x1b[2J\u009b31m\u202eno entry"))
	}))
	t.Cleanup(server.Close)
	store := &v1alpha1.GitStateStore{ObjectMeta: metav1.ObjectMeta{Name: "hostile"}}
	store.Spec.URL = server.URL + "/state.git"
	store.Spec.Insecure = true
	create(t, store)
	d := &v1alpha1.Destination{ObjectMeta: metav1.ObjectMeta{Name: "on-hostile"}}
	d.Spec.Path = "on-hostile"
	d.Spec.StateStoreRef = v1alpha1.StateStoreReference{Kind: v1alpha1.KindGitStateStore, Name: "hostile"}
	create(t, d)

	for _, args := range [][]string{{"history", "destination/on-hostile"}, {"get", "files", "destination/on-hostile"}} {
		_, _, err := kratix(t, args...)
		if err == nil {
			t.Fatalf("kratix %s: no error", strings.Join(args, " "))
		}
		msg := err.Error()
		if !strings.Contains(msg, "GitStateStore/hostile") || !strings.Contains(msg, `\x1b]0;owned`) {
			t.Errorf("kratix %s: error %q does not name the store and the server's message, escaped", strings.Join(args, " "), msg)
		}
		if strings.ContainsAny(msg, "\x1b\x07\u009b\u202e") {
			t.Errorf("kratix %s: error %q holds control characters", strings.Join(args, " "), msg)
		}
	}
}
