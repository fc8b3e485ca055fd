package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
)

// TestDestinationAtStoreRoot: a Destination whose path is "/" or "." (upstream's spelling of the
// store's root) writes its canary files and placements at the top of the store's path, in each
// filepath mode; a second Destination on the store overlaps it; its cleanup removes its own
// directories and nothing else.
func TestDestinationAtStoreRoot(t *testing.T) {
	startManager(t)
	for _, tc := range []struct {
		path, mode, storePath string
		want                  string // the placement's file
	}{
		{"/", v1alpha1.FilepathModeNestedByMetadata, "", "resources/default/redis/app/render/5058f/cm.yaml"},
		{".", v1alpha1.FilepathModeNestedByMetadata, "", "resources/default/redis/app/render/5058f/cm.yaml"},
		{"/", v1alpha1.FilepathModeNone, "", "cm.yaml"},
		{".", v1alpha1.FilepathModeAggregatedYAML, "", v1alpha1.DefaultAggregatedYAMLFilename},
		{"/", v1alpha1.FilepathModeNestedByMetadata, "platform", "platform/resources/default/redis/app/render/5058f/cm.yaml"},
	} {
		t.Run(fmt.Sprintf("path %q mode %s store path %q", tc.path, tc.mode, tc.storePath), func(t *testing.T) {
			f := newGitFixture(t)
			store := f.readyGitStore(t)
			if tc.storePath != "" {
				update(t, store, func(s *v1alpha1.GitStateStore) { s.Spec.Path = tc.storePath })
			}
			prefix := ""
			if tc.storePath != "" {
				prefix = tc.storePath + "/"
			}
			// Someone's file at the root, which no cleanup may remove.
			root := destination(v1alpha1.KindGitStateStore, store.Name, tc.path)
			root.Name = "a-" + root.Name
			root.Spec.Filepath.Mode = tc.mode
			root.Spec.Cleanup = v1alpha1.DestinationCleanupAll
			create(t, root)
			waitForCondition(t, root, metav1.ConditionTrue, v1alpha1.ReasonTestDocumentsWritten)
			canaries := canaryPaths(strings.TrimSuffix(prefix, "/"))
			if prefix == "" {
				canaries = canaryPaths("")
				for i := range canaries {
					canaries[i] = strings.TrimPrefix(canaries[i], "/")
				}
			}
			if got := f.files(t); !slices.Equal(got, canaries) {
				t.Errorf("files %v, want the canaries at the root %v", got, canaries)
			}

			wp := newPlacement(t, root.Name, "app", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"})
			create(t, wp)
			waitForPlacement(t, wp, v1alpha1.ConditionWriteSucceeded, metav1.ConditionTrue, v1alpha1.ReasonWriteSucceeded)
			if got := f.files(t); !slices.Contains(got, tc.want) {
				t.Errorf("files %v, want %s", got, tc.want)
			}

			other := destination(v1alpha1.KindGitStateStore, store.Name, "dev")
			other.Name = "z-" + other.Name
			create(t, other)
			waitForCondition(t, other, metav1.ConditionFalse, v1alpha1.ReasonPathOverlaps)
			deleteAndWait(t, other)

			deleteAndWait(t, wp)
			deleteAndWait(t, root)
			if got := f.files(t); len(got) != 0 {
				t.Errorf("after the cleanup, files %v", got)
			}
		})
	}
}
