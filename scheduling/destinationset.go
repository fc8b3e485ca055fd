package scheduling

import (
	"sort"

	"kratix.dev/kratix/api/v1alpha1"
)

// DestinationSet is the Destinations prepared for scheduling many workload groups: each name is
// hashed once and matching a selector is an intersection of per-label bitsets, so scheduling does
// not look at every Destination's labels for every group. Build it with NewDestinationSet once per
// list of Destinations and reuse it for every Work scheduled against that list. It is read-only
// after construction and safe for concurrent use.
type DestinationSet struct {
	// names are the Destinations' names, sorted; a Destination's position is its index.
	names []string
	// hashes[i] is destinationHash(names[i]).
	hashes []uint64
	// index maps a name to its index.
	index map[string]int
	// schedulable holds the Destinations not being deleted.
	schedulable bitset
	// acceptEmpty holds the schedulable Destinations that an empty selector matches.
	acceptEmpty bitset
	// byLabel holds, for each label key and value, the Destinations that carry it.
	byLabel map[labelPair]bitset
}

// labelPair is one label key and value.
type labelPair struct {
	key, value string
}

// NewDestinationSet indexes destinations for scheduling. Names are unique in a cluster; should the
// list hold a name twice, only one of them (the first in the list) is used.
func NewDestinationSet(destinations []v1alpha1.Destination) *DestinationSet {
	order := make([]int, len(destinations))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return destinations[order[a]].Name < destinations[order[b]].Name
	})

	s := &DestinationSet{
		names:   make([]string, 0, len(destinations)),
		hashes:  make([]uint64, 0, len(destinations)),
		index:   make(map[string]int, len(destinations)),
		byLabel: map[labelPair]bitset{},
	}
	kept := make([]*v1alpha1.Destination, 0, len(destinations))
	for _, o := range order {
		d := &destinations[o]
		if _, dup := s.index[d.Name]; dup {
			continue
		}
		s.index[d.Name] = len(s.names)
		s.names = append(s.names, d.Name)
		s.hashes = append(s.hashes, destinationHash(d.Name))
		kept = append(kept, d)
	}

	n := len(kept)
	s.schedulable, s.acceptEmpty = newBitset(n), newBitset(n)
	for i, d := range kept {
		if !schedulable(d) {
			continue
		}
		s.schedulable.set(i)
		if acceptsEmptySelector(d) {
			s.acceptEmpty.set(i)
		}
		for k, v := range d.Labels {
			p := labelPair{k, v}
			b, ok := s.byLabel[p]
			if !ok {
				b = newBitset(n)
				s.byLabel[p] = b
			}
			b.set(i)
		}
	}
	return s
}

// Len is the number of Destinations in the set.
func (s *DestinationSet) Len() int {
	return len(s.names)
}

// Matching returns the names of the Destinations that selector matches (see Matches), sorted.
func (s *DestinationSet) Matching(selector map[string]string) []string {
	matches := newBitset(len(s.names))
	s.match(selector, matches)
	var names []string
	for i := matches.next(0); i >= 0; i = matches.next(i + 1) {
		names = append(names, s.names[i])
	}
	return names
}

// match stores in out the Destinations that selector matches. It is Matches, computed for every
// Destination at once.
func (s *DestinationSet) match(selector map[string]string, out bitset) {
	if len(selector) == 0 {
		copy(out, s.acceptEmpty)
		return
	}
	copy(out, s.schedulable)
	for k, v := range selector {
		b, ok := s.byLabel[labelPair{k, v}]
		if !ok {
			out.clear()
			return
		}
		out.and(b)
	}
}
