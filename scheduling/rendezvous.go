package scheduling

// Rendezvous (highest-random-weight) hashing: every (workload group, Destination) pair gets a
// pseudo-random score and a resource-level group goes to the matching Destination with the highest
// score. Adding a Destination moves a group only if the new one outscores the old, and removing
// one moves only the groups that were on it; here even that is suppressed by stickiness (an
// existing placement on a matching Destination is always kept).
//
// The score must be identical on every machine, in every process and with every Go version, so
// that a rebuilt platform places the same way: FNV-1a 64 (a fixed, published algorithm; not
// hash/maphash, whose seed is random per process) over the names, combined and finished with the
// SplitMix64 finaliser for good avalanche between similar names.

// FNV-1a 64-bit parameters (http://www.isthe.com/chongo/tech/comp/fnv/).
const (
	fnvOffset64 uint64 = 14695981039346656037
	fnvPrime64  uint64 = 1099511628211
)

// fnv1aString continues an FNV-1a 64 hash h over s.
func fnv1aString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

// fnv1aByte continues an FNV-1a 64 hash h over one byte.
func fnv1aByte(h uint64, b byte) uint64 {
	h ^= uint64(b)
	return h * fnvPrime64
}

// mix64 is the SplitMix64 finaliser: a bijection on 64 bits in which every input bit flips each
// output bit with probability about one half.
func mix64(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return z
}

// groupHash is the hash of a workload group's key: the Work's namespace and name and the group id.
// A NUL separates the parts, which cannot occur in any of them.
func groupHash(workNamespace, workName, groupID string) uint64 {
	h := fnv1aString(fnvOffset64, workNamespace)
	h = fnv1aByte(h, 0)
	h = fnv1aString(h, workName)
	h = fnv1aByte(h, 0)
	return fnv1aString(h, groupID)
}

// destinationHash is the hash of a Destination's name, computed once per Destination.
func destinationHash(destinationName string) uint64 {
	return mix64(fnv1aString(fnvOffset64, destinationName))
}

// score combines the two hashes into the rendezvous score of the pair.
func score(group, destination uint64) uint64 {
	return mix64(group ^ destination)
}

// PlacementScore is the rendezvous score of placing the workload group groupID of the Work
// workNamespace/workName on the Destination destinationName. Among the matching Destinations, a
// new resource-level placement goes to the one with the highest score (ties: the smallest name).
// The value is stable across processes, machines and Go versions.
func PlacementScore(workNamespace, workName, groupID, destinationName string) uint64 {
	return score(groupHash(workNamespace, workName, groupID), destinationHash(destinationName))
}
