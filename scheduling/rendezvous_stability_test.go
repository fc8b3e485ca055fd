package scheduling

import (
	"hash/fnv"
	"testing"
)

// TestPlacementScoreIsStable pins the rendezvous scores. They decide where every resource request
// goes, so they must never change between releases, processes or Go versions: a change would
// move nothing already placed (stickiness), but a rebuilt platform would place differently.
func TestPlacementScoreIsStable(t *testing.T) {
	tests := []struct {
		namespace, work, groupID, destination string
		want                                  uint64
	}{
		{"team-a", "app-configure", RootGroupID, "worker-1", 0x57f9f2180cdd395a},
		{"", "", "", "", 0x1eae6a107b144c15},
		{"kratix-platform-system", "namespace-static-deps", GroupID("db"), "prod", 0x4c8fe2b24dad951b},
	}
	for _, tt := range tests {
		if got := PlacementScore(tt.namespace, tt.work, tt.groupID, tt.destination); got != tt.want {
			t.Errorf("PlacementScore(%q, %q, %q, %q) = %#x, want %#x", tt.namespace, tt.work, tt.groupID, tt.destination, got, tt.want)
		}
	}
}

// TestFNV1aIsTheStandardAlgorithm checks the inlined FNV-1a against the standard library's.
func TestFNV1aIsTheStandardAlgorithm(t *testing.T) {
	for _, s := range []string{"", "a", "worker-1", "kratix-platform-system/namespace-static-deps"} {
		h := fnv.New64a()
		h.Write([]byte(s)) //nolint:errcheck // hash.Hash never returns an error
		if got, want := fnv1aString(fnvOffset64, s), h.Sum64(); got != want {
			t.Errorf("fnv1a(%q) = %#x, hash/fnv says %#x", s, got, want)
		}
	}
}
