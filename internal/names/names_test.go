package names

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

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
		{name: "long name with dots", in: strings.Repeat("abc.", 80), limit: MaxLength, valid: validation.IsDNS1123Subdomain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			if tt.limit == MaxLabelValueLength {
				got = LabelValue(tt.in)
			} else {
				got = Shorten(tt.in)
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

// A shortened label value may be shorter than the limit (separators at the cut are trimmed): a
// reverse lookup must still know to search for it.
func TestMayBeShortened(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want bool
	}{
		{"a name that fits", "redis", false},
		{"63 characters that are not a shortening", strings.Repeat("a", 63), false},
		{"shortened at the limit", LabelValue(strings.Repeat("a", 64)), true},
		{"shortened below the limit, separators trimmed at the cut", LabelValue(strings.Repeat("a", 50) + "---" + strings.Repeat("b", 20)), true},
		{"shortened to the hash alone", LabelValue(strings.Repeat("-", 70)), true},
		{"a short name ending like a hash", "app-0123456789", true},
		{"upper-case hex is never a hash of ours", "app-01234567AB", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := MayBeShortened(tc.in); got != tc.want {
				t.Errorf("MayBeShortened(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
	if v := LabelValue(strings.Repeat("a", 50) + "---" + strings.Repeat("b", 20)); len(v) >= MaxLabelValueLength {
		t.Fatalf("the test needs a shortening below the limit, got %d characters", len(v))
	}
}
