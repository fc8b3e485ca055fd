package scheduling

import (
	"sort"

	"kratix.dev/kratix/api/v1alpha1"
)

// Plan is what it takes to bring a Work's WorkPlacements to where the Work should be scheduled.
// Every existing placement of the Work is in exactly one of Update, Misschedule, Unmisschedule,
// Delete, Unchanged and Frozen. Each list is sorted by name (Unscheduled by group id), so the same
// inputs give the same Plan whatever their order.
//
// A misscheduled placement is frozen: a Plan never updates it (its spec keeps the workloads it had)
// and never deletes it. Only Unmisschedule touches it, when its Destination takes its group again.
type Plan struct {
	// Create holds the WorkPlacements to create.
	Create []v1alpha1.WorkPlacement
	// Update holds copies of existing WorkPlacements with the desired spec and engine labels: write
	// them back as they are (other labels, annotations and the resource version are kept).
	Update []v1alpha1.WorkPlacement
	// Misschedule holds copies of existing WorkPlacements whose Destination no longer takes their
	// group, labelled kratix.io/misscheduled=true and with their spec unchanged: their files stay
	// on the Destination and are never written again while the label is there.
	Misschedule []v1alpha1.WorkPlacement
	// Unmisschedule holds copies of misscheduled WorkPlacements whose Destination takes their group
	// again, without the label and with the desired spec: writes resume.
	Unmisschedule []v1alpha1.WorkPlacement
	// Delete holds the WorkPlacements whose workload group no longer exists in the Work; deleting
	// one removes its files. Never a misscheduled one.
	Delete []v1alpha1.WorkPlacement
	// Unscheduled holds the ids of the workload groups that no Destination matches.
	Unscheduled []string
	// Unchanged names the placements that are already as desired.
	Unchanged []string
	// Frozen names the misscheduled placements that stay misscheduled.
	Frozen []string
}

// Desired is the number of placements the Work should have once the Plan is carried out.
func (p *Plan) Desired() int {
	return len(p.Create) + len(p.Update) + len(p.Unmisschedule) + len(p.Unchanged)
}

// Place plans the WorkPlacements of work: destinations are every Destination of the cluster
// (full objects; their labels are the scheduling labels) and existing are the Work's current
// WorkPlacements. It is NewDestinationSet(destinations).Place(work, existing); use a
// DestinationSet directly to schedule many Works against the same Destinations.
func Place(work *v1alpha1.Work, destinations []v1alpha1.Destination, existing []v1alpha1.WorkPlacement) Plan {
	return NewDestinationSet(destinations).Place(work, existing)
}

// Place plans the WorkPlacements of work against the Destinations of s. Each workload group is
// scheduled by its resolved selector (GroupSelector):
//
//   - a Promise-level Work's group goes to every matching Destination;
//   - a resource-level Work's group goes to exactly one matching Destination: the one it is
//     already placed on if that still matches (an active placement before a misscheduled one),
//     else the matching Destination with the highest PlacementScore.
//
// Then every existing placement is reconciled against that target set: kept and brought up to
// date when its Destination is a target, marked misscheduled when it is not (including a second
// placement of a resource-level group), deleted when its group is gone from the Work. Placements
// in existing that do not belong to work (another namespace, or another kratix.io/work label) are
// ignored.
func (s *DestinationSet) Place(work *v1alpha1.Work, existing []v1alpha1.WorkPlacement) Plan {
	p := &planner{
		set:     s,
		work:    work,
		matches: newBitset(s.Len()),
		targets: newBitset(s.Len()),
		claimed: newBitset(s.Len()),
	}
	byGroup := placementsByGroup(work, existing)
	planned := make(map[string]bool, len(work.Spec.WorkloadGroups))
	for i := range work.Spec.WorkloadGroups {
		group := &work.Spec.WorkloadGroups[i]
		if planned[group.ID] {
			continue // ids are unique in a valid Work; a repeat cannot be placed twice
		}
		planned[group.ID] = true
		p.planGroup(group, byGroup[group.ID])
	}
	for id, placements := range byGroup {
		if planned[id] {
			continue
		}
		for _, wp := range placements {
			p.orphan(wp)
		}
	}
	p.plan.sort()
	return p.plan
}

// planner holds the state of one Place call. The bitsets are scratch space reused for every group,
// so that planning allocates nothing per (group, Destination) pair.
type planner struct {
	set  *DestinationSet
	work *v1alpha1.Work
	// matches: the Destinations the current group's selector matches.
	matches bitset
	// targets: the Destinations the current group should be on.
	targets bitset
	// claimed: the targets that an existing placement already covers.
	claimed bitset
	plan    Plan
}

// placementsByGroup indexes the Work's placements by workload group id, each list sorted with
// active placements before misscheduled ones, then by name.
func placementsByGroup(work *v1alpha1.Work, existing []v1alpha1.WorkPlacement) map[string][]*v1alpha1.WorkPlacement {
	byGroup := map[string][]*v1alpha1.WorkPlacement{}
	for i := range existing {
		wp := &existing[i]
		if belongsTo(wp, work) {
			byGroup[wp.Spec.ID] = append(byGroup[wp.Spec.ID], wp)
		}
	}
	for _, placements := range byGroup {
		sort.Slice(placements, func(i, j int) bool {
			a, b := placements[i], placements[j]
			if a.IsMisscheduled() != b.IsMisscheduled() {
				return !a.IsMisscheduled()
			}
			return a.Name < b.Name
		})
	}
	return byGroup
}

// planGroup chooses the group's target Destinations and reconciles its existing placements
// against them.
func (p *planner) planGroup(group *v1alpha1.WorkloadGroup, existing []*v1alpha1.WorkPlacement) {
	p.set.match(GroupSelector(group), p.matches)
	p.chooseTargets(group, existing)
	if p.targets.empty() {
		p.plan.Unscheduled = append(p.plan.Unscheduled, group.ID)
	}

	p.claimed.clear()
	for _, wp := range existing {
		i, known := p.set.index[wp.Spec.TargetDestinationName]
		if known && p.targets.has(i) && !p.claimed.has(i) {
			p.claimed.set(i)
			p.keep(group, wp)
			continue
		}
		p.retire(wp)
	}
	for i := p.targets.next(0); i >= 0; i = p.targets.next(i + 1) {
		if !p.claimed.has(i) {
			p.plan.Create = append(p.plan.Create, DesiredPlacement(p.work, group, p.set.names[i]))
		}
	}
}

// chooseTargets sets p.targets to the Destinations the group should be on: all matches for a
// Promise-level Work, one for a resource-level Work.
func (p *planner) chooseTargets(group *v1alpha1.WorkloadGroup, existing []*v1alpha1.WorkPlacement) {
	if p.work.IsPromiseLevel() {
		copy(p.targets, p.matches)
		return
	}
	p.targets.clear()
	if i := p.chooseOne(group, existing); i >= 0 {
		p.targets.set(i)
	}
}

// chooseOne picks the one Destination of a resource-level group, or -1 when none matches. A
// matching Destination that already holds a placement of the group wins (an active placement
// before a misscheduled one); otherwise the highest rendezvous score wins, ties going to the
// smallest name. The choice never depends on the order of the inputs.
func (p *planner) chooseOne(group *v1alpha1.WorkloadGroup, existing []*v1alpha1.WorkPlacement) int {
	gh := groupHash(p.work.Namespace, p.work.Name, group.ID)
	best := candidate{index: -1}
	for _, wp := range existing {
		i, known := p.set.index[wp.Spec.TargetDestinationName]
		if !known || !p.matches.has(i) {
			continue
		}
		c := candidate{index: i, active: !wp.IsMisscheduled(), score: score(gh, p.set.hashes[i])}
		if c.beats(best) {
			best = c
		}
	}
	if best.index >= 0 {
		return best.index
	}
	for i := p.matches.next(0); i >= 0; i = p.matches.next(i + 1) {
		c := candidate{index: i, score: score(gh, p.set.hashes[i])}
		if c.beats(best) {
			best = c
		}
	}
	return best.index
}

// candidate is a Destination considered for a resource-level group.
type candidate struct {
	index  int
	active bool
	score  uint64
}

// beats orders candidates: active placements first, then higher score, then smaller index
// (Destinations are indexed by sorted name). Every candidate beats the empty one (index -1).
func (c candidate) beats(other candidate) bool {
	switch {
	case other.index < 0:
		return true
	case c.active != other.active:
		return c.active
	case c.score != other.score:
		return c.score > other.score
	default:
		return c.index < other.index
	}
}

// keep reconciles a placement on one of its group's targets: a misscheduled one is un-marked and
// brought up to date, an active one is updated when it differs from what is desired.
func (p *planner) keep(group *v1alpha1.WorkloadGroup, wp *v1alpha1.WorkPlacement) {
	destination := wp.Spec.TargetDestinationName
	spec := placementSpec(p.work, group, destination)
	labels := placementLabels(p.work, group.ID, destination)
	switch {
	case wp.IsMisscheduled():
		p.plan.Unmisschedule = append(p.plan.Unmisschedule, refreshed(wp, &spec, labels))
	case upToDate(wp, &spec, labels):
		p.plan.Unchanged = append(p.plan.Unchanged, wp.Name)
	default:
		p.plan.Update = append(p.plan.Update, refreshed(wp, &spec, labels))
	}
}

// retire handles a placement of a live group on a Destination that is not one of its targets: it
// is marked misscheduled, or stays frozen if it already is (one marked before the engine set
// upstream's misplaced label too is marked again, which adds it).
func (p *planner) retire(wp *v1alpha1.WorkPlacement) {
	if wp.IsMisscheduled() && wp.Labels[v1alpha1.LabelMisplaced] == v1alpha1.LabelMisscheduledValue {
		p.plan.Frozen = append(p.plan.Frozen, wp.Name)
		return
	}
	p.plan.Misschedule = append(p.plan.Misschedule, markedMisscheduled(wp))
}

// orphan handles a placement whose group is gone from the Work: it is deleted, unless it is
// misscheduled, in which case it stays frozen until the platform team deletes it.
func (p *planner) orphan(wp *v1alpha1.WorkPlacement) {
	if wp.IsMisscheduled() {
		p.plan.Frozen = append(p.plan.Frozen, wp.Name)
		return
	}
	p.plan.Delete = append(p.plan.Delete, *wp.DeepCopy())
}

// sort puts every list of the plan in a canonical order.
func (p *Plan) sort() {
	for _, list := range [][]v1alpha1.WorkPlacement{p.Create, p.Update, p.Misschedule, p.Unmisschedule, p.Delete} {
		sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	}
	sort.Strings(p.Unscheduled)
	sort.Strings(p.Unchanged)
	sort.Strings(p.Frozen)
}
