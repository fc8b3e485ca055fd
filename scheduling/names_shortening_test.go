package scheduling

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	"kratix.dev/kratix/internal/names"
)

func TestPlacementName(t *testing.T) {
	dbID := GroupID("db")
	long := strings.Repeat("a", 200)
	tests := []struct {
		name        string
		work, dest  string
		groupID     string
		want        string
		wantShorter bool
	}{
		{name: "root group", work: "app-configure", dest: "dev", groupID: RootGroupID, want: "app-configure.dev"},
		{name: "directory group", work: "app-configure", dest: "dev", groupID: dbID, want: "app-configure.dev-" + dbID[:5]},
		{name: "too long is shortened", work: long, dest: long, groupID: RootGroupID, wantShorter: true},
		{name: "too long directory group is shortened", work: long, dest: long, groupID: dbID, wantShorter: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PlacementName(tt.work, tt.dest, tt.groupID)
			if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
				t.Errorf("PlacementName = %q is not a valid object name: %v", got, errs)
			}
			if tt.wantShorter {
				if len(got) > names.MaxLength {
					t.Errorf("len(PlacementName) = %d, over %d", len(got), names.MaxLength)
				}
				if got != PlacementName(tt.work, tt.dest, tt.groupID) {
					t.Error("shortening is not deterministic")
				}
				return
			}
			if got != tt.want {
				t.Errorf("PlacementName = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestShortenedNamesStayDistinct(t *testing.T) {
	long := strings.Repeat("w", 240)
	root := PlacementName(long, "destination-1", RootGroupID)
	other := PlacementName(long, "destination-2", RootGroupID)
	dir := PlacementName(long, "destination-1", GroupID("db"))
	if root == other || root == dir || other == dir {
		t.Fatalf("long names that differ only past the limit collide: %q %q %q", root, other, dir)
	}
}
