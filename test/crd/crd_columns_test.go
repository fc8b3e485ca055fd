package crd

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/testenv"
)

// TestKubectlGetColumns runs the real kubectl against the API server and checks the columns that
// CONTRACT.md §1 promises, with values that come from spec, status and labels.
func TestKubectlGetColumns(t *testing.T) {
	ctx := testenv.Context(t)
	ready := metav1.Condition{Type: platformv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: platformv1alpha1.ReasonStateStoreReady, Message: "ok"}

	store := &platformv1alpha1.GitStateStore{
		ObjectMeta: metav1.ObjectMeta{Name: "columns"},
		Spec:       platformv1alpha1.GitStateStoreSpec{URL: "https://git.example.com/state.git"},
	}
	dest := &platformv1alpha1.Destination{
		ObjectMeta: metav1.ObjectMeta{Name: "columns-dev", Labels: map[string]string{"environment": "dev"}},
		Spec: platformv1alpha1.DestinationSpec{
			Path:          "columns-dev",
			StateStoreRef: platformv1alpha1.StateStoreReference{Kind: "GitStateStore", Name: "columns"},
		},
	}
	wp := &platformv1alpha1.WorkPlacement{
		ObjectMeta: metav1.ObjectMeta{Name: "promise-name.columns-dev", Namespace: "default",
			Labels: map[string]string{platformv1alpha1.LabelMisscheduled: "true"}},
		Spec: platformv1alpha1.WorkPlacementSpec{TargetDestinationName: "columns-dev", PromiseName: "promise-name", ID: "5058f1af8388633f609cadb75a75dc9d"},
	}
	for _, obj := range []client.Object{store, dest, wp} {
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(ctx, obj) }) // best effort; the control plane is discarded after the run
	}
	store.Status.Status = platformv1alpha1.StateStoreStatusReady
	meta.SetStatusCondition(&store.Status.Conditions, ready)
	meta.SetStatusCondition(&dest.Status.Conditions, ready)
	meta.SetStatusCondition(&wp.Status.Conditions, metav1.Condition{Type: platformv1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: platformv1alpha1.ReasonMisscheduled, Message: "frozen"})
	for _, obj := range []client.Object{store, dest, wp} {
		if err := env.Client.Status().Update(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}

	cases := []struct {
		args []string
		// header and row are the expected columns, in order, of the header and of the object's row.
		header []string
		row    []string
	}{
		{[]string{"get", "gitstatestores", "columns"}, []string{"NAME", "URL", "BRANCH", "READY", "AGE"}, []string{"columns", "https://git.example.com/state.git", "main", "Ready"}},
		{[]string{"get", "destinations", "columns-dev"}, []string{"NAME", "STATE STORE KIND", "STATE STORE", "READY", "AGE"}, []string{"columns-dev", "GitStateStore", "columns", "True"}},
		{[]string{"get", "dest", "columns-dev"}, []string{"NAME", "STATE STORE KIND", "STATE STORE", "READY", "AGE"}, []string{"columns-dev", "GitStateStore", "columns", "True"}},
		{[]string{"get", "wp", "-n", "default", "promise-name.columns-dev"}, []string{"NAME", "DESTINATION", "STATUS", "MISSCHEDULED", "AGE"}, []string{"promise-name.columns-dev", "columns-dev", "Misscheduled", "true"}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			header, row := kubectlTable(t, tc.args...)
			if !hasPrefix(header, tc.header) {
				t.Errorf("header %q, want %q", header, tc.header)
			}
			if !hasPrefix(row, tc.row) {
				t.Errorf("row %q, want it to start with %q", row, tc.row)
			}
		})
	}

	// The kratix category lists every kind at once.
	out := kubectl(t, "get", "kratix", "-A")
	for _, name := range []string{"gitstatestore.platform.kratix.io/columns", "destination.platform.kratix.io/columns-dev", "workplacement.platform.kratix.io/promise-name.columns-dev"} {
		if !strings.Contains(out, name) {
			t.Errorf("`kubectl get kratix -A` does not list %s:\n%s", name, out)
		}
	}
}

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	cmd, err := env.Kubectl(testenv.Context(t), args...)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// kubectlTable runs kubectl and splits its two-line table into columns: cells are separated by
// two or more spaces, as kubectl pads them.
func kubectlTable(t *testing.T, args ...string) (header, row []string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(kubectl(t, args...)), "\n")
	if len(lines) != 2 {
		t.Fatalf("kubectl %s printed %d lines, want a header and one row:\n%s", strings.Join(args, " "), len(lines), strings.Join(lines, "\n"))
	}
	cells := regexp.MustCompile(`\s{2,}`)
	return cells.Split(strings.TrimSpace(lines[0]), -1), cells.Split(strings.TrimSpace(lines[1]), -1)
}

func hasPrefix(got, want []string) bool {
	if len(got) < len(want) {
		return false
	}
	for i := range want {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}
