package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/statestore"
)

// States of a file in its store, as `get files` shows them.
const (
	// stateWritten: the store holds the bytes the WorkPlacement wants there.
	stateWritten = "Written"
	// stateDiffers: the store holds other bytes (a write pending, or changed by hand).
	stateDiffers = "Differs"
	// stateMissing: nothing at the path (not written yet, or removed by hand).
	stateMissing = "Missing"
	// stateUnknown: the store could not be read.
	stateUnknown = "Unknown"
)

// fileRecord is one file that a WorkPlacement (or the Destination's canary) puts in a store.
type fileRecord struct {
	Destination string `json:"destination"`
	Store       string `json:"store"`
	// Path is where the file is in the repository or bucket, the store's path included.
	Path string `json:"path"`
	// WorkPlacement and Namespace are empty for the Destination's canary files.
	WorkPlacement string `json:"workPlacement,omitempty"`
	Namespace     string `json:"namespace,omitempty"`
	Misscheduled  bool   `json:"misscheduled,omitempty"`
	Size          int    `json:"size"`
	SHA256        string `json:"sha256"`
	// Commit is the newest commit that changed the path (Git stores).
	Commit     string     `json:"commit,omitempty"`
	CommitTime *time.Time `json:"commitTime,omitempty"`
	// Version is the WorkPlacement's last written version (bucket stores: a digest of the
	// objects' versions).
	Version string `json:"version,omitempty"`
	State   string `json:"state"`
	Content string `json:"content"`

	// content is Content's bytes; store the store's relative path.
	content   []byte
	storePath string
}

func runGet(ctx context.Context, args []string, out Streams) error {
	fs, f := newFlagSet("get", out.Err, false)
	fs.Usage = func() {
		fmt.Fprintln(out.Err, "usage: kratix get files <promise>/<request> | workplacement/<name> | destination/<name> [flags]")
		fs.PrintDefaults()
	}
	if err := parse(fs, f, args); err != nil {
		return err
	}
	if fs.NArg() == 0 || fs.Arg(0) != "files" {
		return usagef("get what? kratix get files <promise>/<request> | workplacement/<name> | destination/<name>")
	}
	if fs.NArg() != 2 {
		return usagef("get files takes one <promise>/<request>, workplacement/<name> or destination/<name>")
	}
	t, err := parseTarget(fs.Arg(1), targetRequest, targetWorkPlacement, targetDestination)
	if err != nil {
		return err
	}
	s, err := f.connect()
	if err != nil {
		return err
	}
	records, err := s.files(ctx, t)
	if records == nil && err != nil {
		return err
	}
	if perr := printFiles(out.Out, s.output, records); perr != nil {
		return errors.Join(err, perr)
	}
	return err
}

// files gathers the target's files, decoded from its WorkPlacements, with what the stores hold.
// A store that cannot be read leaves its files in state Unknown and is the error returned with
// them.
func (s *session) files(ctx context.Context, t target) ([]fileRecord, error) {
	wps, canaryOf, err := s.placementsOf(ctx, t)
	if err != nil {
		return nil, err
	}
	ss := newStores(s)
	defer ss.close() //nolint:errcheck // a bucket client holds nothing to release
	dests := map[string]*v1alpha1.Destination{}
	var records []fileRecord
	var storeErrs []error
	addStoreErr := func(err error) {
		for _, e := range storeErrs {
			if e.Error() == err.Error() {
				return
			}
		}
		storeErrs = append(storeErrs, err)
	}
	destination := func(name string) (*v1alpha1.Destination, error) {
		if d, ok := dests[name]; ok {
			return d, nil
		}
		d, err := s.getDestination(ctx, name)
		if err != nil {
			return nil, err
		}
		dests[name] = d
		return d, nil
	}
	if canaryOf != nil {
		dests[canaryOf.Name] = canaryOf
		if canaryOf.Spec.InitWorkloads.Enabled == nil || *canaryOf.Spec.InitWorkloads.Enabled {
			canaries, err := statestore.CanaryFiles(canaryOf.Spec.Path)
			if err != nil {
				return nil, err
			}
			for _, c := range canaries {
				records = append(records, newRecord(canaryOf, nil, c.Path, c.Content))
			}
		}
	}
	for i := range wps {
		wp := &wps[i]
		d, err := destination(wp.Spec.TargetDestinationName)
		if err != nil {
			return nil, fmt.Errorf("workplacement %s/%s: %w", wp.Namespace, wp.Name, err)
		}
		decoded, err := statestore.DecodeWorkloads(wp)
		if err != nil {
			return nil, fmt.Errorf("workplacement %s/%s: %w", wp.Namespace, wp.Name, err)
		}
		for _, file := range decoded {
			p, err := statestore.WorkloadPath(d, wp, file.Path)
			if err != nil {
				return nil, fmt.Errorf("workplacement %s/%s: %w", wp.Namespace, wp.Name, err)
			}
			records = append(records, newRecord(d, wp, p, file.Content))
		}
	}
	// What the stores hold: one clone of each store, one walk of its history for all its files.
	byStore := map[string][]int{}
	var order []string
	for i, r := range records {
		ref := dests[r.Destination].Spec.StateStoreRef
		key := ref.Kind + "/" + ref.Name
		if _, ok := byStore[key]; !ok {
			order = append(order, key)
		}
		byStore[key] = append(byStore[key], i)
	}
	for _, key := range order {
		idx := byStore[key]
		st, err := ss.open(ctx, dests[records[idx[0]].Destination].Spec.StateStoreRef)
		if err != nil {
			addStoreErr(err)
			for _, i := range idx {
				records[i].State = stateUnknown
			}
			continue
		}
		if err := st.inspect(ctx, records, idx, dests); err != nil {
			addStoreErr(err)
		}
	}
	return records, errors.Join(storeErrs...)
}

// placementsOf lists the target's WorkPlacements; for a Destination, it returns the Destination
// too, whose canary files are its own.
func (s *session) placementsOf(ctx context.Context, t target) ([]v1alpha1.WorkPlacement, *v1alpha1.Destination, error) {
	switch t.kind {
	case targetWorkPlacement:
		wp, err := s.getPlacement(ctx, t.name)
		if err != nil {
			return nil, nil, err
		}
		return []v1alpha1.WorkPlacement{*wp}, nil, nil
	case targetDestination:
		d, err := s.getDestination(ctx, t.name)
		if err != nil {
			return nil, nil, err
		}
		wps, err := s.placementsOnDestination(ctx, t.name)
		return wps, d, err
	default:
		r, err := s.getRequest(ctx, t.promise, t.name)
		if err != nil {
			return nil, nil, err
		}
		works, err := s.works(ctx, r)
		if err != nil {
			return nil, nil, err
		}
		wps, err := s.placementsOfWorks(ctx, works)
		return wps, nil, err
	}
}

func newRecord(d *v1alpha1.Destination, wp *v1alpha1.WorkPlacement, storePath string, content []byte) fileRecord {
	sum := sha256.Sum256(content)
	r := fileRecord{
		Destination: d.Name,
		Store:       d.Spec.StateStoreRef.Kind + "/" + d.Spec.StateStoreRef.Name,
		Size:        len(content),
		SHA256:      hex.EncodeToString(sum[:]),
		Content:     string(content),
		content:     content,
		storePath:   storePath,
	}
	if wp != nil {
		r.WorkPlacement, r.Namespace, r.Misscheduled = wp.Name, wp.Namespace, wp.IsMisscheduled()
		if d.Spec.StateStoreRef.Kind == v1alpha1.KindBucketStateStore {
			r.Version = wp.Status.VersionID
		}
	}
	return r
}

// inspect fills in, for the records at idx, where each is in the store, what the store holds
// there and the commit that last changed it.
func (st *store) inspect(ctx context.Context, records []fileRecord, idx []int, dests map[string]*v1alpha1.Destination) error {
	var paths []string
	for _, i := range idx {
		r := &records[i]
		r.Path = st.rooted(r.storePath)
		held, err := st.read(ctx, r.storePath)
		switch {
		case errors.Is(err, statestore.ErrNotFound):
			r.State = stateMissing
		case err != nil:
			r.State = stateUnknown
			return fmt.Errorf("read %s from %s (%s): %w", r.Path, st.ref, st.url, redacted(err))
		case bytes.Equal(held, r.content),
			statestore.SharesFile(dests[r.Destination]) && bytes.Contains(held, bytes.TrimSpace(r.content)):
			r.State = stateWritten
		default:
			r.State = stateDiffers
		}
		paths = append(paths, r.storePath)
	}
	if st.history == nil {
		return nil
	}
	last, err := st.history.LastChanges(ctx, paths)
	if err != nil {
		return err
	}
	for _, i := range idx {
		if c, ok := last[records[i].storePath]; ok {
			when := c.When.UTC()
			records[i].Commit, records[i].CommitTime = c.Hash, &when
		}
	}
	return nil
}

// read returns a file of the store, path relative to its root.
func (st *store) read(ctx context.Context, p string) ([]byte, error) {
	if st.history != nil {
		return st.history.Read(p)
	}
	return st.bucket.Read(ctx, p)
}
