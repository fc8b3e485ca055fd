package scheduling

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"

	"kratix.dev/kratix/api/v1alpha1"
)

func TestMatches(t *testing.T) {
	tests := []struct {
		name        string
		selector    map[string]string
		destination v1alpha1.Destination
		want        bool
	}{
		{name: "all labels equal", selector: labels("env", "dev"), destination: destination("d", labels("env", "dev", "zone", "a")), want: true},
		{name: "a value differs", selector: labels("env", "dev"), destination: destination("d", labels("env", "prod")), want: false},
		{name: "a label missing", selector: labels("env", "dev", "zone", "a"), destination: destination("d", labels("env", "dev")), want: false},
		{name: "empty value is not a missing label", selector: labels("env", ""), destination: destination("d", nil), want: false},
		{name: "empty value matches empty value", selector: labels("env", ""), destination: destination("d", labels("env", "")), want: true},
		{name: "empty selector matches a labelled Destination", selector: nil, destination: destination("d", labels("env", "dev")), want: true},
		{name: "empty selector matches an unlabelled Destination", selector: map[string]string{}, destination: destination("d", nil), want: true},
		{name: "empty selector skips strict labelled Destination", selector: nil, destination: strict(destination("d", labels("env", "dev"))), want: false},
		{name: "empty selector matches strict unlabelled Destination", selector: nil, destination: strict(destination("d", nil)), want: true},
		{name: "strict Destination matches a selector", selector: labels("env", "dev"), destination: strict(destination("d", labels("env", "dev"))), want: true},
		{name: "Destination being deleted never matches", selector: labels("env", "dev"), destination: deleting(destination("d", labels("env", "dev"))), want: false},
		{name: "Destination being deleted never matches an empty selector", selector: nil, destination: deleting(destination("d", nil)), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Matches(tt.selector, &tt.destination); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
			// The index the planner uses must agree with the rule.
			got := NewDestinationSet([]v1alpha1.Destination{tt.destination}).Matching(tt.selector)
			if (len(got) == 1) != tt.want {
				t.Errorf("DestinationSet.Matching = %v, want match %v", got, tt.want)
			}
		})
	}
}

// TestDestinationSetAgreesWithMatches checks the bitset index against the plain rule on random
// Destinations and selectors.
func TestDestinationSetAgreesWithMatches(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	values := []string{"a", "b", ""}
	randomLabels := func() map[string]string {
		m := map[string]string{}
		for _, k := range []string{"env", "zone", "tier"} {
			if rng.Intn(2) == 0 {
				m[k] = values[rng.Intn(len(values))]
			}
		}
		return m
	}
	for round := 0; round < 200; round++ {
		var destinations []v1alpha1.Destination
		for i := 0; i < 1+rng.Intn(150); i++ {
			d := destination(fmt.Sprintf("d%03d", i), randomLabels())
			if rng.Intn(4) == 0 {
				d = strict(d)
			}
			if rng.Intn(8) == 0 {
				d = deleting(d)
			}
			destinations = append(destinations, d)
		}
		selector := randomLabels()
		var want []string
		for i := range destinations {
			if Matches(selector, &destinations[i]) {
				want = append(want, destinations[i].Name)
			}
		}
		rng.Shuffle(len(destinations), func(i, j int) { destinations[i], destinations[j] = destinations[j], destinations[i] })
		got := NewDestinationSet(destinations).Matching(selector)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d, selector %v: index matched %v, rule matched %v", round, selector, got, want)
		}
	}
}
