package v1alpha1

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
)

// EncodeContent encodes a file's bytes as a Workload's content: base64(gzip(bytes)). The same
// bytes always give the same content.
func EncodeContent(data []byte) (string, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		return "", fmt.Errorf("compress: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("compress: %w", err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// MaxDecodedContent is the most bytes DecodeContent returns for one workload: far more than a Work
// within the API server's limit holds for honest output, and a stop to a compressed bomb.
const MaxDecodedContent = 64 << 20

// DecodeContent returns the bytes of a Workload's content, refusing more than MaxDecodedContent.
func DecodeContent(content string) ([]byte, error) {
	compressed, err := base64.StdEncoding.DecodeString(content)
	if err != nil {
		return nil, fmt.Errorf("workload content is not base64: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return nil, fmt.Errorf("workload content is not gzip: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(zr, MaxDecodedContent+1))
	if err != nil {
		return nil, fmt.Errorf("workload content is not gzip: %w", err)
	}
	if len(data) > MaxDecodedContent {
		return nil, fmt.Errorf("workload content decompresses to more than %d bytes", MaxDecodedContent)
	}
	return data, nil
}
