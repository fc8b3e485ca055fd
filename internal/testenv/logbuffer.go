package testenv

import (
	"bytes"
	"sync"
)

// logTail is how much of a manager's log a LogBuffer keeps: the end, which explains a failure,
// without letting a long benchmark's log grow the process.
const logTail = 4 << 20

// LogBuffer collects the last logTail bytes of a manager's log for a failing test: a buffer safe
// for writes from the manager's goroutines while the test reads it.
type LogBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	dropped bool
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if b.buf.Len() > 2*logTail {
		tail := bytes.Clone(b.buf.Bytes()[b.buf.Len()-logTail:])
		if i := bytes.IndexByte(tail, '\n'); i >= 0 {
			tail = tail[i+1:]
		}
		b.buf.Reset()
		b.buf.Write(tail)
		b.dropped = true
	}
	return n, err
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped {
		return "[earlier lines dropped]\n" + b.buf.String()
	}
	return b.buf.String()
}
