package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/statestore"
	"kratix.dev/kratix/statestore/git"
)

// historyEntry is one commit of a store's history that touched what the command asked about.
type historyEntry struct {
	Commit  string    `json:"commit"`
	Date    time.Time `json:"date"`
	Author  string    `json:"author"`
	Subject string    `json:"subject"`
	Store   string    `json:"store"`
	// Changes are the commit's changes (its Kratix-* trailers) that concern the target; none for
	// a commit that someone else made.
	Changes []change `json:"changes"`
}

// change is one change a commit's trailers describe.
type change struct {
	Action        string `json:"action"`
	Destination   string `json:"destination,omitempty"`
	Promise       string `json:"promise,omitempty"`
	Resource      string `json:"resource,omitempty"`
	Pipeline      string `json:"pipeline,omitempty"`
	WorkPlacement string `json:"workPlacement,omitempty"`
}

func runHistory(ctx context.Context, args []string, out Streams) error {
	fs, f := newFlagSet("history", out.Err, false)
	limit := fs.Int("limit", 0, "show at most this many commits (0: all)")
	fs.Usage = func() {
		fmt.Fprintln(out.Err, "usage: kratix history destination/<name> | <promise>/<request> [flags]")
		fs.PrintDefaults()
	}
	if err := parse(fs, f, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("history takes one destination/<name> or <promise>/<request>")
	}
	if *limit < 0 {
		return usagef("--limit must be 0 or more")
	}
	t, err := parseTarget(fs.Arg(0), targetDestination, targetRequest)
	if err != nil {
		return err
	}
	s, err := f.connect()
	if err != nil {
		return err
	}
	entries, err := s.history(ctx, t, *limit)
	if err != nil {
		return err
	}
	return printHistory(out.Out, s.output, entries)
}

// history reads the commits that touched a Destination's directory, or whose trailers name a
// request, from the Git stores, newest first.
func (s *session) history(ctx context.Context, t target, limit int) ([]historyEntry, error) {
	ss := newStores(s)
	defer ss.close() //nolint:errcheck // only Git stores are opened here
	if t.kind == targetDestination {
		d, err := s.getDestination(ctx, t.name)
		if err != nil {
			return nil, err
		}
		st, err := openGit(ctx, ss, d)
		if err != nil {
			return nil, err
		}
		dir, err := statestore.DestinationDir(d.Spec.Path)
		if err != nil {
			return nil, fmt.Errorf("destination %q: %w", d.Name, err)
		}
		commits, err := st.history.Log(ctx, git.LogQuery{Paths: []string{dir}, Limit: limit})
		if err != nil {
			return nil, err
		}
		return entriesOf(st, commits, func(o statestore.Origin) bool { return o.Destination == d.Name }), nil
	}
	r, err := s.getRequest(ctx, t.promise, t.name)
	if err != nil {
		return nil, err
	}
	ns, name := r.obj.GetNamespace(), r.obj.GetName()
	ofRequest := func(o statestore.Origin) bool {
		return o.Promise == r.promise.Name && o.Resource == name && o.ResourceNamespace == ns
	}
	// A request's files may be on any Destination, and its placements gone: read every Git
	// store that a Destination uses.
	var dests v1alpha1.DestinationList
	if err := s.list(ctx, &dests); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var entries []historyEntry
	for i := range dests.Items {
		ref := dests.Items[i].Spec.StateStoreRef
		if ref.Kind != v1alpha1.KindGitStateStore || seen[ref.Name] {
			continue
		}
		seen[ref.Name] = true
		st, err := ss.open(ctx, ref)
		if err != nil {
			return nil, err
		}
		commits, err := st.history.Log(ctx, git.LogQuery{Limit: limit, Match: func(c git.Commit) bool {
			for _, o := range c.Origins {
				if ofRequest(o) {
					return true
				}
			}
			return false
		}})
		if err != nil {
			return nil, err
		}
		entries = append(entries, entriesOf(st, commits, ofRequest)...)
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Date.After(entries[j].Date) })
	if limit > 0 && len(entries) > limit {
		entries = entries[:limit]
	}
	return entries, nil
}

// openGit opens the Git store of a Destination; a bucket has no history to read.
func openGit(ctx context.Context, ss *stores, d *v1alpha1.Destination) (*store, error) {
	ref := d.Spec.StateStoreRef
	if ref.Kind != v1alpha1.KindGitStateStore {
		return nil, errors.New("history needs a Git state store: destination " + d.Name + " is on " + ref.Kind + " " + ref.Name + ", which keeps no history")
	}
	return ss.open(ctx, ref)
}

func entriesOf(st *store, commits []git.Commit, concerns func(statestore.Origin) bool) []historyEntry {
	out := make([]historyEntry, 0, len(commits))
	for _, c := range commits {
		e := historyEntry{Commit: c.Hash, Date: c.When.UTC(), Author: c.Author, Subject: c.Subject, Store: st.ref, Changes: []change{}}
		for _, o := range c.Origins {
			if !concerns(o) {
				continue
			}
			ch := change{Action: string(o.Action), Destination: o.Destination, Promise: o.Promise, Pipeline: o.Pipeline, WorkPlacement: o.WorkPlacement}
			if o.Resource != "" {
				ch.Resource = o.ResourceNamespace + "/" + o.Resource
			}
			e.Changes = append(e.Changes, ch)
		}
		out = append(out, e)
	}
	return out
}
