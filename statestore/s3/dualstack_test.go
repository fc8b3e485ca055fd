package s3

import (
	"errors"
	"net/http"
	"sync"
	"testing"
)

// TestUseDualStack: useDualStack addresses an Amazon S3 endpoint by its dual-stack name, and
// without it the endpoint is used as written (minio-go's own default is dual-stack). Nothing
// leaves the machine: the transport records the host and answers with an error.
func TestUseDualStack(t *testing.T) {
	tests := []struct {
		name      string
		dualStack bool
		wantHost  string
	}{
		{"as configured", false, "s3.eu-west-2.amazonaws.com"},
		{"dual-stack", true, "s3.dualstack.eu-west-2.amazonaws.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var hosts []string
			w, err := New(Options{
				Endpoint: "s3.amazonaws.com", Bucket: "kratix", Region: "eu-west-2",
				AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "secret", UseDualStack: tt.dualStack,
				WrapTransport: func(http.RoundTripper) http.RoundTripper {
					return roundTripFunc(func(r *http.Request) (*http.Response, error) {
						mu.Lock()
						defer mu.Unlock()
						hosts = append(hosts, r.URL.Host)
						return nil, errors.New("offline")
					})
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			_, _ = w.Read(t.Context(), "dev/file.yaml")
			mu.Lock()
			defer mu.Unlock()
			if len(hosts) == 0 {
				t.Fatal("no request was sent")
			}
			for _, h := range hosts {
				if h != tt.wantHost && h != "kratix."+tt.wantHost {
					t.Errorf("request to %q, want %q (path or virtual-host style)", h, tt.wantHost)
				}
			}
		})
	}
}
