package git

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/memory"

	"kratix.dev/kratix/statestore"
)

// A clone holds the branch's head in memory: every file of it, the store's root or not. Deflate
// shrinks a file of zeros a thousandfold, so a few hundred KiB on the wire could become GiBs in
// the manager, which serves every store: whoever may push to a state repository, or point a
// store at a server of their own, could stop every tenant's writes. So a clone receives the
// server's pack whole (within a size), reads each object's declared size before anything is
// inflated, and refuses a pack that holds an object or objects in all past the budget.

// cloneStorage is the in-memory storage of a clone that checks the pack it receives.
type cloneStorage struct {
	*memory.Storage
	budget Budget
	url    string
}

// Budget bounds what a clone may hold.
type Budget struct {
	// PackBytes bounds the pack as the server sends it (compressed).
	PackBytes int64
	// ObjectBytes bounds each object, inflated: one stored whole, a delta, and the object a
	// delta makes.
	ObjectBytes int64
	// TotalBytes bounds the objects together, as the storage holds them (deltas resolved), and
	// the deltas together.
	TotalBytes int64
}

// PackfileWriter implements storer.PackfileWriter: go-git hands it the pack it fetched.
func (s *cloneStorage) PackfileWriter() (io.WriteCloser, error) {
	return &packChecker{s: s}, nil
}

// packChecker buffers a pack, and on Close checks it and then stores its objects.
type packChecker struct {
	s   *cloneStorage
	buf bytes.Buffer
	err error
}

func (p *packChecker) Write(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	if int64(p.buf.Len()+len(b)) > p.s.budget.PackBytes {
		p.err = p.s.refuse(fmt.Sprintf("its pack is larger than %d bytes", p.s.budget.PackBytes))
		return 0, p.err
	}
	return p.buf.Write(b)
}

func (p *packChecker) Close() error {
	if p.err != nil {
		return p.err
	}
	if err := p.check(); err != nil {
		return err
	}
	parser, err := packfile.NewParserWithStorage(packfile.NewScanner(bytes.NewReader(p.buf.Bytes())), p.s.Storage)
	if err != nil {
		return err
	}
	_, err = parser.Parse()
	return err
}

// check reads the declared size of every object of the pack, inflating none into memory.
func (p *packChecker) check() error {
	scanner := packfile.NewScanner(bytes.NewReader(p.buf.Bytes()))
	_, objects, err := scanner.Header()
	if err != nil {
		return fmt.Errorf("read the pack's header: %w", err)
	}
	var total, deltas int64
	for range objects {
		h, err := scanner.NextObjectHeader()
		if err != nil {
			return fmt.Errorf("read the pack: %w", err)
		}
		size, what := h.Length, h.Type.String()
		if h.Type == plumbing.OFSDeltaObject || h.Type == plumbing.REFDeltaObject {
			// A delta's own length says nothing of the object it makes: a few bytes of copy
			// instructions make 64 KiB, and a storage resolves every delta into a whole object.
			// Count the target size its header declares (which go-git enforces), after
			// inflating the delta itself within the budget.
			if h.Length > p.s.budget.ObjectBytes {
				return p.s.refuse(fmt.Sprintf("it holds a delta of %d bytes, more than %d", h.Length, p.s.budget.ObjectBytes))
			}
			if deltas += h.Length; deltas > p.s.budget.TotalBytes {
				return p.s.refuse(fmt.Sprintf("its deltas take more than %d bytes", p.s.budget.TotalBytes))
			}
			head := &deltaHeader{}
			if _, _, err := scanner.NextObject(head); err != nil {
				return fmt.Errorf("read the pack: %w", err)
			}
			if size, err = head.targetSize(); err != nil {
				return fmt.Errorf("read the pack: %w", err)
			}
			what = "delta-encoded object"
		}
		if size > p.s.budget.ObjectBytes {
			return p.s.refuse(fmt.Sprintf("it holds a %s of %d bytes, more than %d", what, size, p.s.budget.ObjectBytes))
		}
		if total += size; total > p.s.budget.TotalBytes {
			return p.s.refuse(fmt.Sprintf("its files take more than %d bytes", p.s.budget.TotalBytes))
		}
	}
	return nil
}

// deltaHeader keeps the first bytes of a delta, which hold its base's and its target's sizes,
// and discards the rest.
type deltaHeader struct {
	buf [2 * binary.MaxVarintLen64]byte
	n   int
}

func (d *deltaHeader) Write(b []byte) (int, error) {
	d.n += copy(d.buf[d.n:], b)
	return len(b), nil
}

// targetSize is the size of the object the delta makes: its header's second LEB128 number,
// after the base's size.
func (d *deltaHeader) targetSize() (int64, error) {
	rest := d.buf[:d.n]
	var size uint64
	for i := 0; i < 2; i++ {
		v, n := binary.Uvarint(rest)
		if n <= 0 || v > math.MaxInt64 {
			return 0, errors.New("a delta with an invalid header")
		}
		size, rest = v, rest[n:]
	}
	return int64(size), nil
}

// errCloneTooLarge marks a branch that a clone refused for its size.
var errCloneTooLarge = errors.New("the branch is too large to hold in memory")

func (s *cloneStorage) refuse(why string) error {
	return statestore.NewError(statestore.ErrInvalidContent, "clone "+s.url,
		fmt.Errorf("%w: %s; remove large files from the branch, or give the store a repository or branch of its own", errCloneTooLarge, why))
}
