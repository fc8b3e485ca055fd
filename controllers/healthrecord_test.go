package controllers

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
)

func healthRecord(name, promise, request, state string, lastRun int64, details string) *v1alpha1.HealthRecord {
	r := &v1alpha1.HealthRecord{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: metav1.NamespaceDefault},
		Data: v1alpha1.HealthRecordData{
			PromiseRef:  v1alpha1.PromiseRef{Name: promise},
			ResourceRef: v1alpha1.ResourceRef{Name: request, Namespace: metav1.NamespaceDefault, Generation: 1},
			State:       state,
			LastRun:     lastRun,
		},
	}
	if details != "" {
		r.Data.Details = &runtime.RawExtension{Raw: []byte(details)}
	}
	return r
}

// waitForHealth waits until the request's status.healthStatus is want, as JSON (null: none).
func waitForHealth(t *testing.T, req *unstructured.Unstructured, want string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s %s healthStatus %s", req.GetKind(), req.GetName(), want), func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(req), req); err != nil {
			return err
		}
		got, _, _ := unstructured.NestedFieldNoCopy(req.Object, "status", "healthStatus")
		var wantV any
		if err := json.Unmarshal([]byte(want), &wantV); err != nil {
			t.Fatal(err)
		}
		if !sameJSON(got, wantV) {
			g, _ := json.Marshal(got)
			return fmt.Errorf("healthStatus %s", g)
		}
		return nil
	})
}

// A HealthRecord shows in its request's status.healthStatus, next to what the engine and the
// pipelines wrote there; its updates change it, the request's state is its worst record's, and a
// record's deletion takes it out. A record of a missing request or Promise is reported in a
// Warning Event on the record, and shows once the request exists.
func TestHealthRecordInRequestStatus(t *testing.T) {
	startManagerWithOptions(t, env.Config, Options{DefaultMaxConcurrentReconciles: 2, HealthRecordRetryInterval: time.Second})
	ensureNamespace(t, v1alpha1.DefaultPlatformNS)
	name := uniqueName("health")
	group := name + ".example.com"
	promise := apiPromise(t, name, group, "Database", "size")
	create(t, promise)
	waitForPromise(t, promise, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	newDB := func(n string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": group + "/v1", "kind": "Database",
			"metadata": map[string]any{"name": n, "namespace": "default"},
			"spec":     map[string]any{"size": "small"},
		}}
	}
	db := newDB("orders")
	create(t, db)
	waitForRequest(t, db, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
	// What a pipeline writes into the status.
	pipelinePatch := []byte(`{"status":{"connection":{"host":"db.internal"}}}`)
	if err := env.Client.Status().Patch(t.Context(), db, client.RawPatch(types.MergePatchType, pipelinePatch)); err != nil {
		t.Fatal(err)
	}

	first := healthRecord(uniqueName("orders-check"), name, "orders", v1alpha1.HealthStateHealthy, 1738158772, `{"checks":{"disk":"ok"}}`)
	create(t, first)
	waitForHealth(t, db, fmt.Sprintf(`{"state":"healthy","healthRecords":[{"state":"healthy","lastRun":1738158772,"source":{"name":%q,"namespace":"default"},"details":{"checks":{"disk":"ok"}}}]}`, first.Name))
	if host, _, _ := unstructured.NestedString(db.Object, "status", "connection", "host"); host != "db.internal" {
		t.Errorf("what the pipeline wrote is gone: %v", db.Object["status"])
	}
	waitForRequest(t, db, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
	waitFor(t, "the record's finalizer", func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(first), first); err != nil {
			return err
		}
		if !slices.Contains(first.Finalizers, v1alpha1.FinalizerHealthRecordCleanup) {
			return fmt.Errorf("finalizers %v", first.Finalizers)
		}
		return nil
	})

	// An update changes the request's health, with a Warning Event on the request.
	update(t, first, func(r *v1alpha1.HealthRecord) {
		r.Data.State = v1alpha1.HealthStateUnhealthy
		r.Data.LastRun = 1738158800
		r.Data.Details = &runtime.RawExtension{Raw: []byte(`{"errors":{"message":"disk full"}}`)}
	})
	firstJSON := fmt.Sprintf(`{"state":"unhealthy","lastRun":1738158800,"source":{"name":%q,"namespace":"default"},"details":{"errors":{"message":"disk full"}}}`, first.Name)
	waitForHealth(t, db, `{"state":"unhealthy","healthRecords":[`+firstJSON+`]}`)
	ev := waitForEventIn(t, "default", "Database", db.GetName(), corev1.EventTypeWarning, v1alpha1.ReasonHealthRecord)
	if !strings.Contains(ev.Note, "unhealthy") {
		t.Errorf("Event %q", ev.Note)
	}

	// Two records: the worst state is the request's.
	second := healthRecord(first.Name+"-b", name, "orders", v1alpha1.HealthStateDegraded, 1738158900, "")
	create(t, second)
	secondJSON := fmt.Sprintf(`{"state":"degraded","lastRun":1738158900,"source":{"name":%q,"namespace":"default"}}`, second.Name)
	waitForHealth(t, db, `{"state":"unhealthy","healthRecords":[`+firstJSON+`,`+secondJSON+`]}`)
	update(t, first, func(r *v1alpha1.HealthRecord) { r.Data.State = v1alpha1.HealthStateReady })
	firstReady := strings.Replace(firstJSON, `"state":"unhealthy"`, `"state":"ready"`, 1)
	waitForHealth(t, db, `{"state":"degraded","healthRecords":[`+firstReady+`,`+secondJSON+`]}`)

	// Deleting a record takes it out of the request's status; the last one takes healthStatus.
	deleteAndWait(t, second)
	waitForHealth(t, db, `{"state":"ready","healthRecords":[`+firstReady+`]}`)
	deleteAndWait(t, first)
	waitForHealth(t, db, `null`)
	if host, _, _ := unstructured.NestedString(db.Object, "status", "connection", "host"); host != "db.internal" {
		t.Errorf("what the pipeline wrote is gone: %v", db.Object["status"])
	}

	// A record of a request that does not exist yet: a Warning Event on the record, and its
	// health shows once the request is created.
	early := healthRecord(uniqueName("billing-check"), name, "billing", v1alpha1.HealthStateHealthy, 1738159000, "")
	create(t, early)
	ev = waitForEventIn(t, "default", "HealthRecord", early.Name, corev1.EventTypeWarning, v1alpha1.ReasonResourceNotFound)
	if !strings.Contains(ev.Note, "data.resourceRef") || !strings.Contains(ev.Note, `"billing"`) {
		t.Errorf("Event %q does not say which request is missing", ev.Note)
	}
	billing := newDB("billing")
	create(t, billing)
	waitForHealth(t, billing, fmt.Sprintf(`{"state":"healthy","healthRecords":[{"state":"healthy","lastRun":1738159000,"source":{"name":%q,"namespace":"default"}}]}`, early.Name))

	// A record in another tenant's namespace about this request is ignored, with a Warning Event
	// on it; one in the platform namespace is shown.
	ensureNamespace(t, "tenant-b")
	foreign := healthRecord(uniqueName("spoof"), name, "billing", v1alpha1.HealthStateUnhealthy, 1738159100, "")
	foreign.Namespace = "tenant-b"
	create(t, foreign)
	ev = waitForEventIn(t, "tenant-b", "HealthRecord", foreign.Name, corev1.EventTypeWarning, v1alpha1.ReasonOutsideItsNamespace)
	if !strings.Contains(ev.Note, `namespace "default"`) {
		t.Errorf("Event %q does not say whose request it names", ev.Note)
	}
	earlyJSON := fmt.Sprintf(`{"state":"healthy","lastRun":1738159000,"source":{"name":%q,"namespace":"default"}}`, early.Name)
	waitForHealth(t, billing, `{"state":"healthy","healthRecords":[`+earlyJSON+`]}`)
	platform := healthRecord(uniqueName("platform-check"), name, "billing", v1alpha1.HealthStateDegraded, 1738159200, "")
	platform.Namespace = v1alpha1.DefaultPlatformNS
	create(t, platform)
	waitForHealth(t, billing, fmt.Sprintf(`{"state":"degraded","healthRecords":[`+earlyJSON+`,{"state":"degraded","lastRun":1738159200,"source":{"name":%q,"namespace":%q}}]}`,
		platform.Name, v1alpha1.DefaultPlatformNS))

	// A record of a Promise that does not exist.
	orphan := healthRecord(uniqueName("orphan-check"), uniqueName("no-such-promise"), "orders", v1alpha1.HealthStateHealthy, 1, "")
	create(t, orphan)
	ev = waitForEventIn(t, "default", "HealthRecord", orphan.Name, corev1.EventTypeWarning, v1alpha1.ReasonPromiseNotFound)
	if !strings.Contains(ev.Note, orphan.Data.PromiseRef.Name) {
		t.Errorf("Event %q does not name the Promise", ev.Note)
	}
	deleteAndWait(t, orphan)
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(orphan), orphan); !apierrors.IsNotFound(err) {
		t.Errorf("the orphan record is still there: %v", err)
	}
}

// waitForEventIn waits for an Event with the type and reason about the object in the namespace.
func waitForEventIn(t *testing.T, namespace, kind, name, eventType, reason string) eventsv1.Event {
	t.Helper()
	var got eventsv1.Event
	waitFor(t, fmt.Sprintf("a %s Event %s on %s %s/%s", eventType, reason, kind, namespace, name), func() error {
		var list eventsv1.EventList
		if err := env.Client.List(t.Context(), &list, client.InNamespace(namespace)); err != nil {
			return err
		}
		var seen []eventsv1.Event
		for _, e := range list.Items {
			if e.Regarding.Kind == kind && e.Regarding.Name == name {
				seen = append(seen, e)
				if e.Type == eventType && e.Reason == reason {
					got = e
					return nil
				}
			}
		}
		return fmt.Errorf("events so far: %v", describeEvents(seen))
	})
	return got
}
