package cli

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
)

func TestParseTarget(t *testing.T) {
	all := []string{targetRequest, targetWorkPlacement, targetDestination}
	cases := []struct {
		arg     string
		kinds   []string
		want    target
		wantErr string
	}{
		{arg: "app/hello", kinds: all, want: target{kind: targetRequest, promise: "app", name: "hello"}},
		{arg: "wp/app.dev-1", kinds: all, want: target{kind: targetWorkPlacement, name: "app.dev-1"}},
		{arg: "workplacements/x", kinds: all, want: target{kind: targetWorkPlacement, name: "x"}},
		{arg: "Destination/dev-1", kinds: all, want: target{kind: targetDestination, name: "dev-1"}},
		{arg: "hello", kinds: all, wantErr: `"hello" is not <promise>/<request>`},
		{arg: "app/", kinds: all, wantErr: "is not"},
		{arg: "a/b/c", kinds: all, wantErr: "is not"},
		{arg: "wp/x", kinds: []string{targetDestination, targetRequest}, wantErr: "this command takes destination/<name> or <promise>/<request>"},
		{arg: "app", kinds: []string{targetRequest, targetPromise}, want: target{kind: targetPromise, promise: "app"}},
		{arg: "wp/x", kinds: []string{targetRequest, targetPromise}, wantErr: "this command takes <promise>/<request> or <promise>"},
	}
	for _, c := range cases {
		t.Run(c.arg, func(t *testing.T) {
			got, err := parseTarget(c.arg, c.kinds...)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !IsUsageError(err) {
					t.Fatalf("got %v, want a usage error with %q", err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

// TestErrors runs the commands against objects that are missing or whose store cannot be
// reached: the messages name what is missing and where, exit codes tell usage from failure, and
// no credential is ever printed.
func TestErrors(t *testing.T) {
	const password = "s3cr3t-never-printed"
	ensure(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultPlatformNS}})
	create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "gone-credentials", Namespace: v1alpha1.DefaultPlatformNS},
		Data:       map[string][]byte{"username": []byte("git"), "password": []byte(password)},
	})
	gone := &v1alpha1.GitStateStore{ObjectMeta: metav1.ObjectMeta{Name: "gone"}}
	gone.Spec.URL = "http://127.0.0.1:1/state.git"
	gone.Spec.Insecure = true
	gone.Spec.SecretRef = &v1alpha1.SecretRef{Name: "gone-credentials", Namespace: v1alpha1.DefaultPlatformNS}
	create(t, gone)
	bucket := &v1alpha1.BucketStateStore{ObjectMeta: metav1.ObjectMeta{Name: "bucket"}}
	bucket.Spec.Endpoint = "127.0.0.1:1"
	bucket.Spec.BucketName = "state"
	bucket.Spec.AuthMethod = v1alpha1.AuthMethodIAM
	create(t, bucket)
	for name, store := range map[string]string{"on-gone": v1alpha1.KindGitStateStore + "/gone", "on-bucket": v1alpha1.KindBucketStateStore + "/bucket"} {
		kind, storeName, _ := strings.Cut(store, "/")
		d := &v1alpha1.Destination{ObjectMeta: metav1.ObjectMeta{Name: name}}
		d.Spec.Path = name
		d.Spec.StateStoreRef = v1alpha1.StateStoreReference{Kind: kind, Name: storeName}
		create(t, d)
	}

	cases := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{name: "no subject", args: []string{"get"}, usage: true, want: "get what?"},
		{name: "two targets", args: []string{"get", "files", "a/b", "c/d"}, usage: true, want: "takes one"},
		{name: "bad output", args: []string{"history", "destination/x", "-o", "table"}, usage: true, want: `unknown output format "table"`},
		{name: "bad flag", args: []string{"status", "a/b", "--frobnicate"}, usage: true, want: "unknown flag: --frobnicate"},
		{name: "negative limit", args: []string{"history", "destination/x", "--limit", "-1"}, usage: true, want: "--limit"},
		{name: "promise not found", args: []string{"get", "files", "nope/hello"}, want: `promise "nope" not found`},
		{name: "destination not found", args: []string{"history", "destination/nope"}, want: `destination "nope" not found`},
		{name: "workplacement not found", args: []string{"get", "files", "wp/nope"}, want: `workplacement "nope" not found in any namespace`},
		{name: "workplacement not in namespace", args: []string{"get", "files", "wp/nope", "-n", "default"}, want: `workplacement "nope" not found in namespace "default"`},
		{name: "store unreachable", args: []string{"history", "destination/on-gone"}, want: "read GitStateStore/gone (http://127.0.0.1:1/state.git, branch main): clone http://127.0.0.1:1/state.git"},
		{name: "bucket has no history", args: []string{"history", "destination/on-bucket"}, want: "history needs a Git state store: destination on-bucket is on BucketStateStore bucket, which keeps no history"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, err := kratix(t, c.args...)
			if err == nil {
				t.Fatalf("no error; stdout:\n%s", out)
			}
			if IsUsageError(err) != c.usage {
				t.Errorf("usage error: %v, want %v (%v)", IsUsageError(err), c.usage, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if strings.Contains(out+errOut+err.Error(), password) {
				t.Errorf("the password was printed")
			}
		})
	}
}
