package controllers

import "testing"

func TestOptionsConcurrency(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		want map[string]int
	}{
		{"nothing set: one at a time", Options{}, map[string]int{"work": 1}},
		{"default applies to unlisted controllers", Options{DefaultMaxConcurrentReconciles: 4}, map[string]int{"work": 4}},
		{"a listed controller wins", Options{DefaultMaxConcurrentReconciles: 4, MaxConcurrentReconciles: map[string]int{"workplacement": 16}},
			map[string]int{"workplacement": 16, "work": 4}},
		{"a zero entry falls back to the default", Options{DefaultMaxConcurrentReconciles: 2, MaxConcurrentReconciles: map[string]int{"work": 0}},
			map[string]int{"work": 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for controller, want := range tc.want {
				if got := tc.opts.Concurrency(controller); got != want {
					t.Errorf("Concurrency(%q) = %d, want %d", controller, got, want)
				}
			}
		})
	}
}
