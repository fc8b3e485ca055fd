package scheduling

import "math/bits"

// bitset is a fixed-size set of small non-negative integers (Destination indexes in a
// DestinationSet). Matching a selector against every Destination is an AND of a few bitsets.
type bitset []uint64

// newBitset returns an empty bitset that holds 0..n-1.
func newBitset(n int) bitset {
	return make(bitset, (n+63)/64)
}

func (b bitset) set(i int) {
	b[i>>6] |= 1 << (uint(i) & 63)
}

func (b bitset) has(i int) bool {
	return b[i>>6]&(1<<(uint(i)&63)) != 0
}

// and keeps in b only the members of both b and other.
func (b bitset) and(other bitset) {
	for i := range b {
		b[i] &= other[i]
	}
}

func (b bitset) clear() {
	clear(b)
}

func (b bitset) empty() bool {
	for _, w := range b {
		if w != 0 {
			return false
		}
	}
	return true
}

// next returns the smallest member that is at least from, or -1 if there is none. Iterate with
// for i := b.next(0); i >= 0; i = b.next(i + 1).
func (b bitset) next(from int) int {
	w := from >> 6
	if w >= len(b) {
		return -1
	}
	word := b[w] >> (uint(from) & 63)
	if word != 0 {
		return from + bits.TrailingZeros64(word)
	}
	for w++; w < len(b); w++ {
		if b[w] != 0 {
			return w<<6 + bits.TrailingZeros64(b[w])
		}
	}
	return -1
}
