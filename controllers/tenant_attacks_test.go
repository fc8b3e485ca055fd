package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/names"
)

// tenantIn is a client that acts as a tenant who may do what rules allow in namespace alone (a
// Role and RoleBinding there), as an "edit" role in their own namespace would.
func tenantIn(t *testing.T, user, namespace string, rules []rbacv1.PolicyRule) client.Client {
	t.Helper()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("tenant"), Namespace: namespace}, Rules: rules}
	create(t, role)
	create(t, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name, Namespace: namespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	})
	return actingAs(t, user, "system:authenticated")
}

// kratixRules are a tenant's rights on the engine's namespaced kinds.
var kratixRules = []rbacv1.PolicyRule{{
	APIGroups: []string{v1alpha1.GroupVersion.Group},
	Resources: []string{"resourcebindings", "dryruns"},
	Verbs:     []string{"get", "list", "watch", "create", "update", "patch", "delete"},
}}

// Attack: a tenant creates, in their own namespace, a ResourceBinding whose resourceRef names a
// request of another namespace and an old version. When the platform team retires that version
// (deletes its PromiseRevision), the revision's request cleanup must delete only requests whose
// own binding names the version: never another namespace's request through a binding that the
// engine never uses for it.
func TestATenantsBindingDeletesNoRequestOfAnotherNamespace(t *testing.T) {
	startPlatform(t)
	promise, group := versionedPromise(t, "v1", versionScript("v1"))
	create(t, promise)
	waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	victim := thing(group, uniqueName("victim"))
	create(t, victim)
	waitForFiles(t, promise.Name, victim, "v1.yaml")

	tenantNS := uniqueName("tenant-a")
	ensureNamespace(t, tenantNS)
	mallory := tenantIn(t, uniqueName("mallory"), tenantNS, kratixRules)
	forged := &v1alpha1.ResourceBinding{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("forged"), Namespace: tenantNS, Labels: map[string]string{
			v1alpha1.LabelPromiseName: names.LabelValue(promise.Name), v1alpha1.LabelResourceName: names.LabelValue(victim.GetName())}},
		Spec: v1alpha1.ResourceBindingSpec{
			Version:     "v1",
			PromiseRef:  v1alpha1.PromiseRef{Name: promise.Name},
			ResourceRef: v1alpha1.ResourceRef{Name: victim.GetName(), Namespace: victim.GetNamespace()},
		},
	}
	if err := mallory.Create(t.Context(), forged); err != nil {
		t.Fatalf("the tenant may create bindings in their namespace: %v", err)
	}

	setPromiseVersion(t, promise, "v2", versionScript("v2"))
	waitForFiles(t, promise.Name, victim, "v2.yaml")
	rev := &v1alpha1.PromiseRevision{ObjectMeta: metav1.ObjectMeta{Name: revisionName(promise.Name, "v1")}}
	waitFor(t, "revision v1 has the request cleanup finalizer and is not the latest", func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(rev), rev); err != nil {
			return err
		}
		if !slices.Contains(rev.Finalizers, v1alpha1.FinalizerRevisionRequestCleanup) || rev.Status.Latest {
			return fmt.Errorf("finalizers %v, latest %v", rev.Finalizers, rev.Status.Latest)
		}
		return nil
	})
	deleteAndWait(t, rev)
	time.Sleep(time.Second)
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(victim), victim); err != nil || !victim.GetDeletionTimestamp().IsZero() {
		t.Fatalf("the victim in %s was deleted through a binding in %s: %v, deletion %v", victim.GetNamespace(), tenantNS, err, victim.GetDeletionTimestamp())
	}
}

// Attack: a tenant pauses their own request (kratix.io/paused=true, or suspends its workflow
// with kratix.io/workflow-suspended=true), both labels they may set on their own objects. The
// rollout admits it in its batch; its workflow never runs, so the rollout counted it as running
// forever and admitted no further batch: every other tenant's request stayed on the old spec. A
// paused or suspended request is outside the rollout, as a pinned one is.
func TestATenantsPausedRequestDoesNotStallTheRollout(t *testing.T) {
	for _, label := range []string{v1alpha1.LabelPaused, v1alpha1.LabelWorkflowSuspended} {
		t.Run(label, func(t *testing.T) {
			startPlatform(t)
			promise, group := rolloutPromise(t, map[string]string{v1alpha1.AnnotationRolloutBatchSize: "1"})
			create(t, promise)
			waitForPromise(t, promise, v1alpha1.ConditionReconciled, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
			// The stalling request comes first in the rollout's order (by key).
			staller, others := thing(group, "aaa-"+uniqueName("staller")), []*unstructured.Unstructured{thing(group, "zzz-"+uniqueName("one")), thing(group, "zzz-"+uniqueName("two"))}
			for _, r := range append([]*unstructured.Unstructured{staller}, others...) {
				create(t, r)
				waitForRequest(t, r, v1alpha1.ConditionConfigureWorkflowCompleted, metav1.ConditionTrue, v1alpha1.ReasonPipelinesExecutedSuccessfully)
			}
			t.Cleanup(func() { // a paused request is not deleted
				unpause := client.RawPatch(types.MergePatchType, []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:null}}}`, label)))
				if err := env.Client.Patch(context.Background(), staller.DeepCopy(), unpause); err != nil {
					t.Errorf("unpause: %v", err)
				}
			})
			mallory := tenantIn(t, uniqueName("mallory"), staller.GetNamespace(), []rbacv1.PolicyRule{{
				APIGroups: []string{group}, Resources: []string{"*"}, Verbs: []string{"get", "list", "update", "patch"}}})
			patch := client.RawPatch(types.MergePatchType, []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:"true"}}}`, label)))
			if err := mallory.Patch(t.Context(), staller.DeepCopy(), patch); err != nil {
				t.Fatalf("the tenant labels their own request: %v", err)
			}
			time.Sleep(time.Second)

			setRender(t, promise, versionedRender("v2"))
			waitFor(t, "the other tenants' requests to run v2", func() error {
				for name, content := range workContents(t, promise.Name, others) {
					if !strings.Contains(content, "version: v2") {
						p := &v1alpha1.Promise{}
						_ = env.Client.Get(t.Context(), client.ObjectKeyFromObject(promise), p)
						return fmt.Errorf("request %s's Work is %q; rollout %+v", name, content, p.Status.Rollout)
					}
				}
				return nil
			})
		})
	}
}

// Attack: a tenant's DryRun of a request of their own namespace, on a Destination in filepath
// mode aggregatedYAML, whose one file holds every placement's workloads. The diff of that file
// showed the lines around the tenant's workloads: another tenant's manifests, as the store holds
// them. A DryRun outside the platform namespace shows the content only of files that its
// request's own placements wrote or would create; of the others, that they change.
func TestATenantsDryRunShowsNoOtherTenantsFiles(t *testing.T) {
	startPlatform(t)
	f := newGitFixture(t)
	dest := readyGitDestinationInMode(t, f, "agg", v1alpha1.FilepathModeAggregatedYAML, "all.yaml")
	const secret = "hunter2-the-victims-password"
	victim := newPlacement(t, dest.Name, "victim", map[string]string{"secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  user: admin\n  password: " + secret + "\n"})
	create(t, victim)
	waitForPlacement(t, victim, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
	if !strings.Contains(f.show(t, "agg/all.yaml"), secret) {
		t.Fatalf("the victim's file is not in the store")
	}

	promise, _ := workflowPromise(t, renderScript)
	create(t, promise)
	waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	tenantNS := uniqueName("tenant-b")
	ensureNamespace(t, tenantNS)
	mallory := tenantIn(t, uniqueName("mallory"), tenantNS, kratixRules)
	dr := &v1alpha1.DryRun{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("peek"), Namespace: tenantNS},
		Spec: v1alpha1.DryRunSpec{
			PromiseRef:         v1alpha1.DryRunPromiseRef{Name: promise.Name},
			ResourceRequestRef: v1alpha1.DryRunResourceRequestRef{Name: "mine"},
			Resource:           raw(t, map[string]any{"spec": map[string]any{"color": "green"}}),
		},
	}
	if err := mallory.Create(t.Context(), dr); err != nil {
		t.Fatalf("the tenant may create DryRuns in their namespace: %v", err)
	}
	t.Cleanup(func() { deleteAndWait(t, dr) })
	waitForDryRun(t, dr, metav1.ConditionTrue, v1alpha1.ReasonSummaryWritten)
	if got := dryRunFiles(dr, dest.Name); !slices.Equal(got, []string{"~ agg/all.yaml"}) {
		t.Errorf("files %v, want the aggregated file changed", got)
	}
	if strings.Contains(dr.Status.Diff, secret) || strings.Contains(dr.Status.Diff, "victim") {
		t.Errorf("the tenant's DryRun shows another tenant's files:\n%s", dr.Status.Diff)
	}
}

// Attack: a diff whose characters the API server stores escaped ("<" is \u003c in JSON, six
// bytes for one) stayed under DryRunMaxDiff in bytes but took over five times the bound in the
// stored status (1.3 MiB of etcd's 1.5 MiB request limit for a 256 KiB bound): the bound did not
// bound the status, and with the other fields the write could fail for ever, the engine
// rebuilding the diff at every retry. The bound is on the diff as stored.
func TestDryRunDiffBoundHoldsEscaped(t *testing.T) {
	big := dryRunV1 + `
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n  namespace: default\ndata:\n  big: |\n' > /kratix/output/big.yaml
line=$(printf '%0.s<' $(seq 1 60))
seq 1 8000 | sed "s/^/    $line /" >> /kratix/output/big.yaml`
	w := newDryRunWorld(t, dryRunV1, "first")
	dr := &v1alpha1.DryRun{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("escaped"), Namespace: v1alpha1.DefaultPlatformNS},
		Spec: v1alpha1.DryRunSpec{PromiseRef: v1alpha1.DryRunPromiseRef{Name: w.promise.Name}, Promise: w.promise.Spec.DeepCopy(),
			Requests: []v1alpha1.DryRunResourceRequestRef{{Name: "first", Namespace: "default"}}},
	}
	dr.Spec.Promise.Workflows.Resource.Configure = []v1alpha1.Pipeline{shPipeline("render", big)}
	create(t, dr)
	waitForDryRun(t, dr, metav1.ConditionTrue, v1alpha1.ReasonSummaryWritten)
	encoded, err := json.Marshal(dr.Status.Diff)
	if err != nil {
		t.Fatal(err)
	}
	if !dr.Status.DiffTruncated || len(encoded) > v1alpha1.DryRunMaxDiff || !strings.Contains(dr.Status.Diff, "<<<<") {
		t.Errorf("truncated %t, %d bytes as stored", dr.Status.DiffTruncated, len(encoded))
	}
}
