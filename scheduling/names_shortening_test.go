package scheduling

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
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
				if len(got) > MaxNameLength {
					t.Errorf("len(PlacementName) = %d, over %d", len(got), MaxNameLength)
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

func TestShortening(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		valid func(string) []string
	}{
		{name: "short label value unchanged", in: "my-app", limit: MaxLabelValueLength, valid: validation.IsValidLabelValue},
		{name: "label value exactly at limit unchanged", in: strings.Repeat("a", 63), limit: MaxLabelValueLength, valid: validation.IsValidLabelValue},
		{name: "long label value", in: strings.Repeat("a", 64), limit: MaxLabelValueLength, valid: validation.IsValidLabelValue},
		{name: "cut lands on separators", in: strings.Repeat("a", 51) + "-._-" + strings.Repeat("b", 20), limit: MaxLabelValueLength, valid: validation.IsValidLabelValue},
		{name: "long name with dots", in: strings.Repeat("abc.", 80), limit: MaxNameLength, valid: validation.IsDNS1123Subdomain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			if tt.limit == MaxLabelValueLength {
				got = LabelValue(tt.in)
			} else {
				got = ShortenName(tt.in)
			}
			if len(tt.in) <= tt.limit && got != tt.in {
				t.Errorf("%q fits and was changed to %q", tt.in, got)
			}
			if len(got) > tt.limit {
				t.Errorf("len(%q) = %d, over %d", got, len(got), tt.limit)
			}
			if errs := tt.valid(got); len(errs) > 0 {
				t.Errorf("%q is invalid: %v", got, errs)
			}
			if len(tt.in) > tt.limit && !strings.HasPrefix(tt.in, strings.SplitN(got, "-", 2)[0][:10]) {
				t.Errorf("%q does not keep a readable prefix of %q", got, tt.in)
			}
		})
	}
}
