// Package s3server runs a real S3 server for tests: versitygw with its POSIX backend, built into
// bin/ by `make tools`, on a free loopback port with its own data directory.
package s3server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"kratix.dev/kratix/internal/testenv"
)

// Server is a running versitygw.
type Server struct {
	// Endpoint is host:port, without a scheme (plain HTTP).
	Endpoint string
	// AccessKey and SecretKey are the root user's credentials.
	AccessKey string
	SecretKey string

	binary string
	dir    string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// New starts a server and stops it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("stop the S3 server: %v", err)
		}
	})
	return s
}

// Start starts a server on a free loopback port. Close it when done.
func Start() (*Server, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	binary := filepath.Join(root, "bin", "versitygw")
	if _, err := os.Stat(binary); err != nil {
		return nil, fmt.Errorf("s3server: %s is missing; run `make tools`", binary)
	}
	dir, err := os.MkdirTemp("", "kratix-s3-")
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"data", "meta"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	endpoint := l.Addr().String()
	if err := l.Close(); err != nil {
		return nil, err
	}
	s := &Server{Endpoint: endpoint, AccessKey: "kratix-" + randomHex(4), SecretKey: randomHex(16), binary: binary, dir: dir}
	if err := s.start(); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	return s, nil
}

// start runs the process and waits until it answers S3 requests.
func (s *Server) start() error {
	cmd := exec.Command(s.binary, "--port", s.Endpoint, "--access", s.AccessKey, "--secret", s.SecretKey, "--quiet",
		"posix", "--sidecar", filepath.Join(s.dir, "meta"), filepath.Join(s.dir, "data"))
	cmd.Env = append(os.Environ(), "HOME="+s.dir)
	logFile, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return errors.Join(fmt.Errorf("start versitygw: %w", err), logFile.Close())
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()      // the exit is observed through exited; its status is in the log
		_ = logFile.Close() // nothing more will be written
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	client, err := s.Client()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := client.ListBuckets(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(s.dir, "server.log")) // for the message only
			return fmt.Errorf("versitygw exited at start: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			return errors.Join(fmt.Errorf("versitygw did not answer within 20s: %w", err), s.Stop())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Client returns a minio-go client with the root credentials.
func (s *Server) Client() (*minio.Client, error) {
	return minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Secure: false})
}

// CreateBucket makes a bucket.
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	client, err := s.Client()
	if err != nil {
		return err
	}
	return client.MakeBucket(ctx, name, minio.MakeBucketOptions{})
}

// Stop stops the process and keeps the data, so that Restart serves it again.
func (s *Server) Stop() error {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
		<-exited
	}
	return nil
}

// Restart starts the server again on the same address with the same data.
func (s *Server) Restart() error { return s.start() }

// Close stops the server and removes its data.
func (s *Server) Close() error {
	return errors.Join(s.Stop(), os.RemoveAll(s.dir))
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}
