package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"kratix.dev/kratix/internal/localplatform"
	"kratix.dev/kratix/internal/localplatform/applier"
)

// compoundDir holds the compound Promise of examples/compound/README.md.
const compoundDir = "../../examples/compound"

// TestLocalCompoundPromise runs examples/compound on `kratix local`, installed in the wrong
// order: the app Promise first, which is Unavailable naming the Promises it requires, and whose
// request waits; once database and ingress arrive, everything converges: the app request's
// pipeline writes a Database and an Ingress request into the Destination platform, the
// platform's applier creates them, and their own pipelines run. Deleting a required Promise makes
// the app Promise Unavailable again.
func TestLocalCompoundPromise(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds kratix and runs `kratix local` for about a minute; skipped under -short")
	}
	l := newLocal(t, buildTools(t))
	l.start()

	// The built-in Destination of the platform itself.
	l.kubectl("wait", "--for=condition=Ready", "destination/"+localplatform.PlatformDestinationName, "--timeout=30s")
	if got := l.kubectl("get", "destination", localplatform.PlatformDestinationName, "-o", "jsonpath={.metadata.labels.environment} {.spec.strictMatchLabels}"); got != "platform true" {
		t.Errorf("Destination platform: environment label and strictMatchLabels = %q", got)
	}
	// Its canary files are applied to the platform's own API server.
	eventually(t, "the platform's canary ConfigMap applied", func() error {
		out, err := l.kubectlErr("get", "configmap", "kratix-info", "-n", "kratix-worker-system", "-o", "jsonpath={.metadata.labels.kratix\\.io/applied-by}")
		if err != nil || out != applier.DefaultFieldManager {
			return fmt.Errorf("%q (%v)", out, err)
		}
		return nil
	})

	// The app Promise alone: its API is served, but it is Unavailable and names what is missing.
	l.kubectl("apply", "-f", compoundDir+"/app-promise.yaml")
	eventually(t, "the app Promise Unavailable for want of its requirements", func() error {
		out, err := l.kubectlErr("get", "promise", "app", "-o", `jsonpath={.status.status}|{.status.conditions[?(@.type=="RequirementsFulfilled")].reason}|{.status.message}`)
		if err != nil || !containsAll(out, "Unavailable|RequirementsNotInstalled|", "database v1.0.0 is not installed", "ingress is not installed") {
			return fmt.Errorf("%q (%v)", out, err)
		}
		return nil
	})
	if out := l.kubectl("get", "promises"); !containsAll(out, "app", "Unavailable", "required Promises not fulfilled") {
		t.Errorf("kubectl get promises:\n%s", out)
	}
	if out := l.kubectl("get", "promise", "app", "-o", "jsonpath={.status.requiredPromises}"); !containsAll(out, `"name":"database"`, `"state":"Requirement not installed"`) {
		t.Errorf("status.requiredPromises = %s", out)
	}
	l.kubectl("wait", "--for=condition=Established", "crd/apps.compound.example.io", "--timeout=60s")
	eventually(t, "kubectl apply the app request", func() error {
		out, err := l.kubectlErr("apply", "-f", compoundDir+"/app-request.yaml")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	eventually(t, "the app request waiting", func() error {
		out, err := l.kubectlErr("get", "app", "shop", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].reason}|{.status.conditions[?(@.type=="Ready")].message}`)
		if err != nil || !containsAll(out, "RequirementsNotFulfilled|", "database v1.0.0 is not installed") {
			return fmt.Errorf("%q (%v)", out, err)
		}
		return nil
	})
	time.Sleep(2 * time.Second) // time enough for a Job that should not start
	if jobs := l.kubectl("get", "jobs", "-A", "-l", "kratix.io/promise-name=app,kratix.io/workflow-type=resource", "-o", "name"); strings.TrimSpace(jobs) != "" {
		t.Fatalf("the waiting request ran Jobs: %s", jobs)
	}

	// The required Promises arrive: everything converges.
	l.kubectl("apply", "-f", compoundDir+"/database-promise.yaml", "-f", compoundDir+"/ingress-promise.yaml")
	l.kubectl("wait", "--for=condition=Available", "promise/database", "promise/ingress", "--timeout=60s")
	l.kubectl("wait", "--for=condition=RequirementsFulfilled", "promise/app", "--timeout=60s")
	l.kubectl("wait", "--for=condition=Available", "promise/app", "--timeout=60s")
	for _, f := range []string{"/database.yaml", "/ingress.yaml"} {
		l.waitForFile("platform/resources/default/app/shop", f, "name: shop-")
	}
	// The applier creates the requests; their pipelines write their ConfigMaps to local.
	for _, kind := range []string{"databases.compound.example.io/shop-db", "ingresses.compound.example.io/shop-ingress"} {
		eventually(t, kind+" applied and provisioned", func() error {
			out, err := l.kubectlErr("get", kind, "-o", `jsonpath={.metadata.labels.kratix\.io/applied-by}|{.status.message}`)
			if err != nil || !strings.HasPrefix(out, applier.DefaultFieldManager+"|") || !strings.HasSuffix(out, "provisioned") {
				return fmt.Errorf("%q (%v)", out, err)
			}
			return nil
		})
	}
	l.waitForFile("local/resources/default/database/shop-db", "/database.yaml", "engine: \"postgres\"")
	l.waitForFile("local/resources/default/ingress/shop-ingress", "/ingress.yaml", "host: \"shop.example.com\"")
	l.kubectl("wait", "--for=condition=Ready", "app/shop", "--timeout=60s")
	managers := l.kubectl("get", "databases.compound.example.io", "shop-db", "--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}")
	if !strings.Contains(managers, applier.DefaultFieldManager) {
		t.Errorf("shop-db's field managers: %s", managers)
	}

	// A required Promise goes: the app Promise is Unavailable again.
	l.kubectl("delete", "promise", "ingress", "--timeout=90s")
	eventually(t, "the app Promise Unavailable again", func() error {
		out, err := l.kubectlErr("get", "promise", "app", "-o", `jsonpath={.status.status}|{.status.conditions[?(@.type=="RequirementsFulfilled")].message}`)
		if err != nil || !containsAll(out, "Unavailable|", "ingress is not installed") || strings.Contains(out, "database") {
			return fmt.Errorf("%q (%v)", out, err)
		}
		return nil
	})
}
