package testenv

import (
	"fmt"
	"strings"
	"testing"
)

// A long log keeps its end, from a whole line on, and says that lines were dropped.
func TestLogBufferKeepsTheTail(t *testing.T) {
	var b LogBuffer
	for i := range 3 * logTail / 16 {
		fmt.Fprintf(&b, "line %010d\n", i) // 16 bytes
	}
	got := b.String()
	if !strings.HasPrefix(got, "[earlier lines dropped]\nline ") {
		t.Errorf("the log starts with %q", got[:min(len(got), 40)])
	}
	if !strings.HasSuffix(got, fmt.Sprintf("line %010d\n", 3*logTail/16-1)) {
		t.Errorf("the last line is missing: ...%q", got[len(got)-40:])
	}
	if len(got) > 2*logTail+100 {
		t.Errorf("the buffer holds %d bytes, more than twice the tail of %d", len(got), logTail)
	}
	var short LogBuffer
	fmt.Fprint(&short, "one line\n")
	if got := short.String(); got != "one line\n" {
		t.Errorf("a short log = %q", got)
	}
}
