package v1alpha1

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync"
)

// gzipWriters and gzipReaders are reused: a gzip writer allocates about 1 MiB of tables, which
// cost the work-writer more CPU than compressing a small file (BenchmarkPromiseUpdate's CPU
// profile), and a reader its window.
var (
	gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}
	gzipReaders sync.Pool
)

// EncodeContent encodes a file's bytes as a Workload's content: base64(gzip(bytes)). The same
// bytes always give the same content.
func EncodeContent(data []byte) (string, error) {
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	if _, err := zw.Write(data); err != nil {
		return "", fmt.Errorf("compress: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("compress: %w", err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// ErrContentTooLarge is the error of content that decodes to more than its limit.
var ErrContentTooLarge = errors.New("workload content decompresses to too many bytes")

// MaxDecodedContent is the most bytes the workloads of one Work decode to in all, and the most
// the one file of a Destination in filepath mode aggregatedYAML holds: far more than a Work
// within the API server's limit holds for honest output, and a stop to a compressed bomb.
const MaxDecodedContent = 64 << 20

// DecodeContent returns the bytes of a Workload's content, refusing more than MaxDecodedContent.
func DecodeContent(content string) ([]byte, error) {
	return DecodeContentWithin(content, MaxDecodedContent)
}

// DecodeContentWithin returns the bytes of a Workload's content, refusing more than limit: what
// is left of a budget shared by several workloads. It never holds more than limit+1 bytes.
func DecodeContentWithin(content string, limit int) ([]byte, error) {
	compressed, err := base64.StdEncoding.DecodeString(content)
	if err != nil {
		return nil, fmt.Errorf("workload content is not base64: %w", err)
	}
	zr, _ := gzipReaders.Get().(*gzip.Reader)
	if zr == nil {
		zr = new(gzip.Reader)
	}
	defer gzipReaders.Put(zr)
	if err := zr.Reset(bytes.NewReader(compressed)); err != nil {
		return nil, fmt.Errorf("workload content is not gzip: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(zr, int64(max(limit, 0))+1))
	if err != nil {
		return nil, fmt.Errorf("workload content is not gzip: %w", err)
	}
	if len(data) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrContentTooLarge, limit)
	}
	return data, nil
}
