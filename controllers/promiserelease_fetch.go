package controllers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"kratix.dev/kratix/api/v1alpha1"
)

// Limits of a PromiseRelease's fetch.
const (
	// promiseFetchTimeout bounds one fetch of a Promise, connection and body included.
	promiseFetchTimeout = 30 * time.Second
	// maxPromiseSize is the largest Promise document the engine reads (etcd's default request
	// limit is 1.5 MiB; a Promise larger than that could not be stored anyway).
	maxPromiseSize = 3 << 20
)

// fetchError is why a Promise could not be fetched: the reason of the PromiseRelease's Installed
// condition and a message for the person who fixes it.
type fetchError struct {
	reason  string
	message string
}

func (e *fetchError) Error() string { return e.message }

// promiseSource is where a PromiseRelease's Promise comes from.
type promiseSource struct {
	// url as spec.sourceRef.url gives it.
	url string
	// authorization is the Authorization header's value, empty for none.
	authorization string
	// secret names the Secret that authorization came from, for messages: "namespace/name".
	secret string
}

// fetchPromise fetches and decodes the Promise at src: exactly one document of kind Promise
// in platform.kratix.io/v1alpha1. Errors are *fetchError; none holds the credentials.
func fetchPromise(ctx context.Context, hc *http.Client, src promiseSource) (*unstructured.Unstructured, error) {
	shown := redactURL(src.url)
	u, err := url.Parse(src.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &fetchError{v1alpha1.ReasonFailedToFetchPromise,
			fmt.Sprintf("spec.sourceRef.url %q is not an http:// or https:// URL", shown)}
	}
	ctx, cancel := context.WithTimeout(ctx, promiseFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.url, nil)
	if err != nil {
		return nil, &fetchError{v1alpha1.ReasonFailedToFetchPromise, fmt.Sprintf("spec.sourceRef.url %q: %v", shown, redactURLIn(err.Error(), src.url))}
	}
	req.Header.Set("Accept", "application/yaml, application/json;q=0.9, */*;q=0.8")
	if src.authorization != "" {
		req.Header.Set("Authorization", src.authorization)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, &fetchError{v1alpha1.ReasonFailedToFetchPromise,
			fmt.Sprintf("could not fetch the Promise from %s: %v; check that the URL is right and the server is up", shown, cause(err))}
	}
	defer func() { _ = resp.Body.Close() }()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		msg := fmt.Sprintf("%s answered %s: ", shown, resp.Status)
		if src.secret == "" {
			msg += "the server wants credentials; set spec.sourceRef.secretRef to a Secret whose authorizationHeader key holds the Authorization header (\"Basic <base64 of user:password>\" or \"Bearer <token>\")"
		} else {
			msg += fmt.Sprintf("the server refused the credentials of Secret %q; check its authorizationHeader key (\"Basic <base64 of user:password>\" or \"Bearer <token>\")", src.secret)
		}
		return nil, &fetchError{v1alpha1.ReasonUnauthorized, msg}
	case resp.StatusCode == http.StatusNotFound:
		return nil, &fetchError{v1alpha1.ReasonFailedToFetchPromise,
			fmt.Sprintf("%s answered %s: there is no Promise at this URL; check spec.sourceRef.url", shown, resp.Status)}
	case resp.StatusCode != http.StatusOK:
		return nil, &fetchError{v1alpha1.ReasonFailedToFetchPromise,
			fmt.Sprintf("%s answered %s, not 200 OK; the engine tries again", shown, resp.Status)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPromiseSize+1))
	if err != nil {
		return nil, &fetchError{v1alpha1.ReasonFailedToFetchPromise, fmt.Sprintf("reading the Promise from %s: %v", shown, cause(err))}
	}
	if len(body) > maxPromiseSize {
		return nil, &fetchError{v1alpha1.ReasonInvalidPromise, fmt.Sprintf("%s serves more than %d MiB, more than a Promise can be", shown, maxPromiseSize>>20)}
	}
	promise, err := decodePromise(body)
	if err != nil {
		return nil, &fetchError{v1alpha1.ReasonInvalidPromise, fmt.Sprintf("%s does not serve a Promise: %v", shown, err)}
	}
	return promise, nil
}

// decodePromise reads exactly one YAML or JSON document, a Promise of platform.kratix.io/v1alpha1.
func decodePromise(data []byte) (*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var docs []map[string]any
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("not YAML or JSON: %v", err)
		}
		if len(doc) > 0 {
			docs = append(docs, doc)
		}
	}
	switch len(docs) {
	case 0:
		return nil, errors.New("the document is empty")
	case 1:
	default:
		return nil, fmt.Errorf("it holds %d documents; a PromiseRelease installs exactly one Promise", len(docs))
	}
	obj := &unstructured.Unstructured{Object: docs[0]}
	if obj.GetKind() != "Promise" || obj.GetAPIVersion() != v1alpha1.GroupVersion.String() {
		kind := obj.GetKind()
		if kind == "" {
			kind = "no kind"
		}
		return nil, fmt.Errorf("it holds %s of %q, not a Promise of %s", kind, obj.GetAPIVersion(), v1alpha1.GroupVersion)
	}
	if obj.GetName() == "" {
		return nil, errors.New("the Promise has no metadata.name")
	}
	if _, ok := obj.Object["spec"].(map[string]any); !ok && obj.Object["spec"] != nil {
		return nil, errors.New("the Promise's spec is not an object")
	}
	return obj, nil
}

// redactURL shows a URL without its password, if it holds one.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	return u.Redacted()
}

// redactURLIn replaces the URL in msg by its redacted form.
func redactURLIn(msg, raw string) string {
	return string(bytes.ReplaceAll([]byte(msg), []byte(raw), []byte(redactURL(raw))))
}

// cause is the innermost error of a *url.Error: net/http's errors repeat the method and URL,
// which the messages give already.
func cause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
