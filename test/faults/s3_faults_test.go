package faults

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// testS3Down stops the S3 server, its data kept, for serverDownFor while Works are being written
// to a BucketStateStore, then starts it again on the same address. What a placement's version
// means in a bucket, and how the suite checks it, is in audit_test.go.
//
// S3 writes are quick: of N Works created at once, nearly all are written by the time the first
// is seen to be. So a quarter are created and written first, the server is stopped, and the rest
// are created while it is down.
func testS3Down(t *testing.T) {
	s := newScenario(t, "(f) s3 server down 30s", rigOptions{s3: true})
	first := max(1, s.res.n/4)
	s.putWorks(t, first)
	down := false
	// Registered after the scenario's cleanups, so it runs before them: they need the server.
	t.Cleanup(func() {
		if down {
			if err := s.r.s3.Restart(); err != nil {
				t.Errorf("restart the S3 server: %v", err)
			}
		}
	})
	s.faultBegins(t, s.waitWritten(t, first))
	if err := s.r.s3.Stop(); err != nil {
		t.Fatalf("stop the S3 server: %v", err)
	}
	down = true
	s.r.addWorks(t, s.res.n-first)
	time.Sleep(serverDownFor) // the one timed fault window
	if err := s.r.s3.Restart(); err != nil {
		t.Fatalf("restart the S3 server: %v", err)
	}
	down = false
	s.converge(t, time.Now())
	s.r.readBack(t)
}

// readBack reads every Work's object from the bucket and checks its content, which the audits
// compare only by ETag.
func (r *rig) readBack(t *testing.T) {
	t.Helper()
	c, err := r.s3.Client()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range r.works {
		obj, err := c.GetObject(t.Context(), bucketName, r.files[w.Name], minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(obj)
		_ = obj.Close() // read only
		if err != nil {
			t.Fatalf("read %s: %v", r.files[w.Name], err)
		}
		if !bytes.Equal(data, r.content[w.Name]) {
			t.Errorf("%s holds %q, want %q", r.files[w.Name], data, r.content[w.Name])
		}
	}
}
