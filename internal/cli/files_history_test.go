package cli

import (
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
)

// TestFilesAndHistory follows the README's walkthrough with the engine writing real commits to a
// real Git server: a Promise on dev, a request, the Promise moved to prod (dev's placement
// misscheduled), and the misscheduled placement deleted. The CLI reads the store over HTTP with
// the credentials of the store's Secret.
func TestFilesAndHistory(t *testing.T) {
	p := newPlatform(t)
	applyPromise(t, "promise-v1.yaml")
	// The Promise's placement first, so that the request's is a commit of its own (on a busy
	// machine the writer would otherwise put both in one).
	waitPlacements(t, v1alpha1.DefaultPlatformNS, 1)
	createRequest(t, "hello")
	waitPlacements(t, "default", 1)

	golden(t, "files-request", p.normalise(t, mustKratix(t, "get", "files", "app/hello", "-n", "default")))
	golden(t, "files-request-yaml", p.normalise(t, mustKratix(t, "get", "files", "app/hello", "-n", "default", "-o", "yaml")))
	golden(t, "files-destination-wide", p.normalise(t, mustKratix(t, "get", "files", "destination/dev-1", "-o", "wide")))
	golden(t, "history-request", p.normalise(t, mustKratix(t, "history", "app/hello", "-n", "default")))

	applyPromise(t, "promise-v2.yaml")
	waitFor(t, "dev's placement misscheduled", func() error {
		return misscheduled(t, "app-static-deps.dev-1")
	})
	waitPlacements(t, v1alpha1.DefaultPlatformNS, 2)
	golden(t, "files-workplacement-misscheduled", p.normalise(t, mustKratix(t, "get", "files", "workplacement/app-static-deps.dev-1")))

	if err := env.Client.DeleteAllOf(t.Context(), &v1alpha1.WorkPlacement{}, client.InNamespace(v1alpha1.DefaultPlatformNS),
		client.MatchingLabels{v1alpha1.LabelMisscheduled: "true"}); err != nil {
		t.Fatal(err)
	}
	waitPlacements(t, v1alpha1.DefaultPlatformNS, 1)
	waitFor(t, "the delete commit", func() error {
		out := mustKratix(t, "history", "destination/dev-1", "--limit", "1")
		if !strings.Contains(out, "delete") {
			return errorf("newest commit is not the delete: %s", out)
		}
		return nil
	})
	golden(t, "history-destination", p.normalise(t, mustKratix(t, "history", "destination/dev-1")))
	golden(t, "history-destination-wide", p.normalise(t, mustKratix(t, "history", "destination/dev-1", "-o", "wide", "--limit", "2")))
	golden(t, "history-destination-json", p.normalise(t, mustKratix(t, "history", "destination/dev-1", "-o", "json", "--limit", "1")))

	// Someone edits the request's file by hand: the store differs from what its placement wants
	// until the engine writes it again, and the history shows a commit without trailers.
	p.editByHand(t, "dev-1/resources/default/app/hello/render/5058f/configmap.yaml", "# emptied by hand\n", "empty the ConfigMap")
	golden(t, "files-request-edited", p.normalise(t, mustKratix(t, "get", "files", "app/hello", "-n", "default")))
	golden(t, "history-destination-edited", p.normalise(t, mustKratix(t, "history", "destination/dev-1", "--limit", "2")))
}

func misscheduled(t *testing.T, name string) error {
	wp := &v1alpha1.WorkPlacement{}
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: v1alpha1.DefaultPlatformNS, Name: name}, wp); err != nil {
		return err
	}
	if !wp.IsMisscheduled() {
		return errorf("%s is not misscheduled", name)
	}
	return nil
}
