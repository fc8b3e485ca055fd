package e2e

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"

	"kratix.dev/kratix/pipeline/local/image/imagetest"
)

// renderProgram is a pipeline as marketplace Promises build theirs: its image's entrypoint, a
// template baked into the image at /tmp/transfer, no command in the Promise.
const renderProgram = `package main

import (
	"fmt"
	"os"
	"strings"
)

// field is the value of the first "  key: value" line of the object.
func field(object, key string) string {
	for _, line := range strings.Split(object, "\n") {
		if v, ok := strings.CutPrefix(line, "  "+key+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func main() {
	object, err := os.ReadFile("/kratix/input/object.yaml")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	template, err := os.ReadFile("/tmp/transfer/configmap.yaml")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := strings.NewReplacer("NAME", field(string(object), "name"), "GREETING", field(string(object), "greeting"),
		"VERSION", os.Getenv("RENDER_VERSION")).Replace(string(template))
	if err := os.WriteFile("/kratix/output/configmap.yaml", []byte(out), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	status := fmt.Sprintf("message: rendered from an image by version %s\n", os.Getenv("RENDER_VERSION"))
	if err := os.WriteFile("/kratix/metadata/status.yaml", []byte(status), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// imagePromise is a Promise of the Greeting API whose pipeline is the image, with no command; the
// container's RENDER_VERSION replaces the image's.
const imagePromise = `apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata:
  name: greeting
spec:
  destinationSelectors:
    - matchLabels:
        environment: dev
  api:
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: greetings.example.platform.io
    spec:
      group: example.platform.io
      names: {kind: Greeting, plural: greetings, singular: greeting}
      scope: Namespaced
      versions:
        - name: v1
          served: true
          storage: true
          schema:
            openAPIV3Schema:
              type: object
              properties:
                spec:
                  type: object
                  properties:
                    greeting: {type: string}
  workflows:
    resource:
      configure:
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata:
            name: render
          spec:
            containers:
              - name: render
                image: %s
                env:
                  - name: RENDER_VERSION
                    value: "%s"
`

const greetingRequest = `apiVersion: example.platform.io/v1
kind: Greeting
metadata:
  name: hi
  namespace: default
spec:
  greeting: hello-from-an-image
`

// imageScenario runs a Promise whose pipeline is an image served by a registry on loopback,
// with no command, through create, update (the container's env changes) and delete of a request.
// The image's root holds a read-only directory, which an unprivileged platform must unpack too.
func (l *local) imageScenario() {
	t := l.t
	t.Helper()
	registry := imagetest.Registry(t)
	img := imagetest.Build(t, empty.Image, map[string]imagetest.File{
		"bin/render": {Content: string(imagetest.Program(t, renderProgram)), Mode: 0o755},
		"tmp/transfer/configmap.yaml": {Content: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: NAME\n  namespace: default\n" +
			"data:\n  greeting: GREETING\n  renderVersion: \"VERSION\"\n", Mode: 0o644},
		"usr/share/read-only":        {Mode: fs.ModeDir | 0o555},
		"usr/share/read-only/a-file": {Content: "in a directory of mode 0555", Mode: 0o444},
	}, func(c *v1.Config) {
		c.Entrypoint = []string{"/bin/render"}
		c.Env = []string{"PATH=/bin", "RENDER_VERSION=from-the-image"}
	})
	ref := registry + "/greeting-renderer:1"
	imagetest.Push(t, ref, img)

	dir := t.TempDir()
	apply := func(name, content string) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		l.kubectl("apply", "-f", path)
	}
	apply("promise.yaml", fmt.Sprintf(imagePromise, ref, "1"))
	l.kubectl("wait", "--for=condition=Available", "promise/greeting", "--timeout=60s")
	eventually(t, "the Greeting request is created", func() error {
		path := filepath.Join(dir, "request.yaml")
		if err := os.WriteFile(path, []byte(greetingRequest), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := l.kubectlErr("apply", "-f", path)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	const requestDir = "dev-cluster-1/resources/default/greeting/hi"
	path := l.waitForFile(requestDir, "/configmap.yaml", `renderVersion: "1"`)
	if content := l.git("show", "main:"+path); !strings.Contains(content, "greeting: hello-from-an-image") || !strings.Contains(content, "name: hi") {
		t.Errorf("%s, rendered from the image's template:\n%s", path, content)
	}
	eventually(t, "hi's status message", func() error {
		got, err := l.kubectlErr("get", "greeting", "hi", "-o", "jsonpath={.status.message}")
		if err != nil || got != "rendered from an image by version 1" {
			return fmt.Errorf("message %q (%v)", got, err)
		}
		return nil
	})

	apply("promise.yaml", fmt.Sprintf(imagePromise, ref, "2"))
	l.waitForFile(requestDir, "/configmap.yaml", `renderVersion: "2"`)

	l.kubectl("delete", "greeting", "hi", "--timeout=60s")
	eventually(t, "hi's directory is removed", func() error {
		if files := l.filesUnder(requestDir, ""); len(files) > 0 {
			return fmt.Errorf("still there: %v", files)
		}
		return nil
	})
	l.kubectl("delete", "promise", "greeting", "--timeout=60s")
}
