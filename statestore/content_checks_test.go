package statestore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/statestore"
)

// TestPlacementWritesRefuseWhatBreaksTheDestinationsBuild: the work-writer refuses a manifest
// file that does not parse, but a Work may be written through the API too. A placement's write
// refuses such content (ErrInvalidContent) in every mode, and in aggregatedYAML, whose one file
// every placement shares, any document that is not a Kubernetes object.
func TestPlacementWritesRefuseWhatBreaksTheDestinationsBuild(t *testing.T) {
	for _, tc := range []struct {
		name, mode, file, content string
		refused                   bool
	}{
		{"nestedByMetadata, YAML that does not parse", v1alpha1.FilepathModeNestedByMetadata, "broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n", true},
		{"none, YAML that does not parse", v1alpha1.FilepathModeNone, "resources/broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n", true},
		{"nestedByMetadata, JSON that does not parse", v1alpha1.FilepathModeNestedByMetadata, "broken.json", "{", true},
		{"nestedByMetadata, a file that is not a manifest", v1alpha1.FilepathModeNestedByMetadata, "main.tf", "resource {", false},
		{"aggregatedYAML, a document that is no Kubernetes object", v1alpha1.FilepathModeAggregatedYAML, "values.yaml", "replicas: 3\n", true},
		{"aggregatedYAML, a list", v1alpha1.FilepathModeAggregatedYAML, "list.yaml", "- a\n- b\n", true},
		{"aggregatedYAML, objects and an empty document", v1alpha1.FilepathModeAggregatedYAML, "ok.yaml", "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wp := placement(t, "cache-dev", map[string]string{tc.file: tc.content})
			dest := destinationIn(tc.mode, "")
			pc, err := statestore.BuildPlacementChange(t.Context(), files{}, statestore.PlacementInput{
				Action: statestore.ActionUpdate, Placement: &wp, Destination: dest, Neighbours: []v1alpha1.WorkPlacement{wp},
			})
			switch {
			case tc.refused && !errors.Is(err, statestore.ErrInvalidContent):
				t.Errorf("the change writes %v with %q in it (%v); want ErrInvalidContent", paths(pc.Change.Files), tc.content, err)
			case !tc.refused && err != nil:
				t.Errorf("refused: %v", err)
			}
		})
	}
}

// TestOnePlacementCannotFillAnAggregatedFileForEveryone: the placements of an aggregatedYAML
// Destination take their place in its one file oldest first. A newer placement that does not
// fit in what the others left is refused, and says so; the older ones are written without it.
func TestOnePlacementCannotFillAnAggregatedFileForEveryone(t *testing.T) {
	const budget = 1 << 20
	statestore.SetAggregatedBudget(t, budget)
	big := strings.Repeat("a", budget-1024)
	hog := placement(t, "hog", map[string]string{"big.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {x: " + big + "}\n"})
	hog.Namespace = "aaa-tenant"
	hog.CreationTimestamp = metav1.NewTime(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))
	victim := placement(t, "app", map[string]string{"app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata:\n  x: " + big[:4096] + "\n"})
	victim.Namespace = "team-z"
	victim.CreationTimestamp = metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	dest := destinationIn(v1alpha1.FilepathModeAggregatedYAML, "")
	neighbours := []v1alpha1.WorkPlacement{hog, victim}

	pc, err := statestore.BuildPlacementChange(t.Context(), files{}, statestore.PlacementInput{
		Action: statestore.ActionUpdate, Placement: &victim, Destination: dest, Neighbours: neighbours,
	})
	if err != nil {
		t.Fatalf("team-z's older 4 KiB placement cannot be written because a newer one would fill the file: %v", err)
	}
	if content := string(pc.Change.Files[0].Content); !strings.Contains(content, "team-z/app") || strings.Contains(content, "aaa-tenant/hog") {
		t.Errorf("the file holds the wrong placements:\n%.200s", content)
	}
	_, err = statestore.BuildPlacementChange(t.Context(), files{}, statestore.PlacementInput{
		Action: statestore.ActionUpdate, Placement: &hog, Destination: dest, Neighbours: neighbours,
	})
	if !errors.Is(err, statestore.ErrInvalidContent) || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("the newer placement that does not fit: %v, want ErrInvalidContent saying it does not fit", err)
	}
}
