package v1alpha1

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"strings"
	"testing"
)

// TestContentRoundTrip: content is base64(gzip(bytes)) and decodes to the same bytes.
func TestContentRoundTrip(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"), bytes.Repeat([]byte("kratix "), 10000)} {
		content, err := EncodeContent(data)
		if err != nil {
			t.Fatal(err)
		}
		// Any gzip reader reads it, not only ours: the contract fixes the encoding.
		raw, err := base64.StdEncoding.DecodeString(content)
		if err != nil {
			t.Fatalf("content is not base64: %v", err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("content is not gzip: %v", err)
		}
		var plain bytes.Buffer
		if _, err := plain.ReadFrom(zr); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(plain.Bytes(), data) {
			t.Errorf("gzip of content differs from the input")
		}
		back, err := DecodeContent(content)
		if err != nil || !bytes.Equal(back, data) {
			t.Errorf("DecodeContent = %q, %v", back, err)
		}
	}
}

// TestDecodeContentRefuses: content that is not base64(gzip) or that decompresses to too much.
func TestDecodeContentRefuses(t *testing.T) {
	bomb, err := EncodeContent(make([]byte, MaxDecodedContent+1))
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"not base64":  "!!!",
		"not gzip":    base64.StdEncoding.EncodeToString([]byte("plain")),
		"a gzip bomb": bomb,
	} {
		if _, err := DecodeContent(content); err == nil || !strings.Contains(err.Error(), "workload content") {
			t.Errorf("%s: error %v", name, err)
		}
	}
}
