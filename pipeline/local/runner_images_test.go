package local

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kratix.dev/kratix/pipeline/local/image"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/pipeline"
	"kratix.dev/kratix/pipeline/local/image/imagetest"
)

// reportProgram is a pipeline as marketplace Promises build them: a program that its image's
// entrypoint names, reading a template baked into the image at /tmp/transfer. It prints what it
// saw, one "key: value" per line.
const reportProgram = `package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	template, err := os.ReadFile("/tmp/transfer/template.yaml")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	object, err := os.ReadFile("/kratix/input/object.yaml")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	cwd, _ := os.Getwd()
	_, statErr := os.Stat("/etc/removed")
	fmt.Printf("args: [%s]\n", strings.Join(os.Args[1:], " "))
	fmt.Printf("cwd: %s\n", cwd)
	fmt.Printf("shared: %s\n", os.Getenv("SHARED"))
	fmt.Printf("from-image: %s\n", os.Getenv("FROM_IMAGE"))
	fmt.Printf("template: %s\n", strings.TrimSpace(string(template)))
	fmt.Printf("whiteout: %v\n", os.IsNotExist(statErr))
	fmt.Printf("uid: %d\n", os.Getuid())
	fmt.Printf("object: %v\n", strings.Contains(string(object), "kind: AppConfig"))
	if err := os.WriteFile("/kratix/output/out.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: out}\n"), 0o644); err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
}
`

// reportImage is the pipeline image of the tests: the program, an /etc/passwd with a user
// "app", a file that the second layer removes with a whiteout and the template it adds.
func reportImage(t *testing.T, cfg func(*v1.Config)) v1.Image {
	t.Helper()
	base := imagetest.Build(t, empty.Image, map[string]imagetest.File{
		"bin/pipeline": {Content: string(imagetest.Program(t, reportProgram)), Mode: 0o755},
		"etc/passwd":   {Content: "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n", Mode: 0o644},
		"etc/removed":  {Content: "the second layer removes this", Mode: 0o644},
	}, func(c *v1.Config) {
		c.Entrypoint, c.Cmd = []string{"/bin/pipeline"}, []string{"from-cmd"}
		c.Env = []string{"PATH=/bin", "FROM_IMAGE=yes", "SHARED=image"}
		c.WorkingDir = "/work"
		if cfg != nil {
			cfg(c)
		}
	})
	return imagetest.Build(t, base, map[string]imagetest.File{
		"tmp/transfer/template.yaml": {Content: "template: baked\n", Mode: 0o644},
		"etc/removed":                {Whiteout: true},
	}, nil)
}

// logOf reads the log of the Job's container (its index among init and main containers).
func logOf(t *testing.T, r *Runner, job *batchv1.Job, index int, container string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(r.DataDir, "jobs", job.Namespace, job.Name, "logs", fmt.Sprintf("%02d-%s.log", index, container)))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// imagePipeline is a one-container pipeline of the image, with the container's changes.
func imagePipeline(ref string, change func(*v1alpha1.Container)) v1alpha1.Pipeline {
	c := v1alpha1.Container{Name: "render", Image: ref, Env: []corev1.EnvVar{{Name: "SHARED", Value: "container"}}}
	if change != nil {
		change(&c)
	}
	return v1alpha1.Pipeline{Metadata: v1alpha1.PipelineMetadata{Name: "render"}, Spec: v1alpha1.PipelineSpec{Containers: []v1alpha1.Container{c}}}
}

// TestRunnerRunsImages runs pipelines from images served by a registry on loopback, with the
// image's config deciding what runs by Kubernetes' rules, and fails, with a reason naming the
// image and the registry's answer, those whose image cannot be pulled.
func TestRunnerRunsImages(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	public := imagetest.Registry(t)
	private := imagetest.Registry(t, imagetest.WithBasicAuth("puller", "s3cret"))
	imagetest.Push(t, public+"/pipeline:1", reportImage(t, nil))
	imagetest.Push(t, public+"/pipeline:as-app", reportImage(t, func(c *v1.Config) { c.User = "app" }))
	imagetest.Push(t, private+"/pipeline:1", reportImage(t, nil), imagetest.Auth("puller", "s3cret"))
	pullSecret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "pull-", Namespace: "default"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: fmt.Appendf(nil, `{"auths":{%q:{"auth":%q}}}`,
			private, base64.StdEncoding.EncodeToString([]byte("puller:s3cret")))},
	}
	if err := env.Client.Create(ctx, pullSecret); err != nil {
		t.Fatal(err)
	}
	api := appConfigAPI(t, ctx)
	r := startRunner(t, 0)

	for _, tc := range []struct {
		name    string
		p       v1alpha1.Pipeline
		want    []string // lines of the container's log
		failure []string // parts of the Job's failure message, when it must fail
	}{{
		name: "entrypoint and cmd of the image",
		p:    imagePipeline(public+"/pipeline:1", nil),
		want: []string{"args: [from-cmd]", "cwd: /work", "shared: container", "from-image: yes", "template: template: baked", "whiteout: true", "uid: 0", "object: true"},
	}, {
		name: "args replace cmd",
		p:    imagePipeline(public+"/pipeline:1", func(c *v1alpha1.Container) { c.Args = []string{"given", "$(SHARED)"} }),
		want: []string{"args: [given container]"},
	}, {
		name: "command replaces entrypoint and cmd",
		p:    imagePipeline(public+"/pipeline:1", func(c *v1alpha1.Container) { c.Command = []string{"/bin/pipeline", "from-command"} }),
		want: []string{"args: [from-command]", "cwd: /work"},
	}, {
		name: "the image's user",
		p:    imagePipeline(public+"/pipeline:as-app", nil),
		want: []string{"uid: 1000", "object: true"},
	}, {
		name: "a private image without a pull secret",
		p:    imagePipeline(private+"/pipeline:1", nil),
		// Before the case with the secret: like a kubelet's, the cache serves an image it holds
		// to any Job whose pull policy does not make it ask the registry.
		failure: []string{"ErrImagePull", private + "/pipeline:1", "401 Unauthorized"},
	}, {
		name: "a private image with its pull secret",
		p: func() v1alpha1.Pipeline {
			p := imagePipeline(private+"/pipeline:1", nil)
			p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: pullSecret.Name}}
			return p
		}(),
		want: []string{"args: [from-cmd]", "template: template: baked"},
	}, {
		name:    "an image not present with pull policy Never",
		p:       imagePipeline(public+"/never:1", func(c *v1alpha1.Container) { c.ImagePullPolicy = corev1.PullNever }),
		failure: []string{"ErrImagePull", "pull policy is Never"},
	}, {
		name:    "an image the registry does not have",
		p:       imagePipeline(public+"/missing:1", nil),
		failure: []string{"ErrImagePull", public + "/missing:1", "NAME_UNKNOWN"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			job := requestJob(t, ctx, api, "images", "images-", tc.p)
			createJob(t, ctx, job)
			waitFor(t, "Job "+job.Name+" finishes", func() error { return jobDone(ctx, job, finished) })
			if tc.failure != nil {
				c := condition(job, batchv1.JobFailed)
				if c == nil {
					t.Fatalf("the Job did not fail: %+v", job.Status.Conditions)
				}
				for _, part := range tc.failure {
					if !strings.Contains(c.Message, part) {
						t.Errorf("the failure %q does not say %q", c.Message, part)
					}
				}
				if strings.Contains(c.Message, "s3cret") {
					t.Errorf("the failure shows the registry password: %q", c.Message)
				}
				waitFor(t, "an ErrImagePull Event on the Job", func() error { return eventOn(ctx, job, ReasonPullError, tc.failure[1]) })
				return
			}
			if condition(job, batchv1.JobComplete) == nil {
				t.Fatalf("the Job did not complete: %+v", job.Status.Conditions)
			}
			log := logOf(t, r, job, 1, "render")
			for _, line := range tc.want {
				if !strings.Contains(log, line+"\n") {
					t.Errorf("the container's log lacks %q:\n%s", line, log)
				}
			}
		})
	}
}

// eventOn reports, as an error, that the object has no Event with the reason whose message
// holds text.
func eventOn(ctx context.Context, obj client.Object, reason, text string) error {
	events := &corev1.EventList{}
	if err := env.Client.List(ctx, events, client.InNamespace(obj.GetNamespace())); err != nil {
		return err
	}
	for _, e := range events.Items {
		if e.InvolvedObject.UID == obj.GetUID() && e.Reason == reason && strings.Contains(e.Message, text) {
			return nil
		}
	}
	return fmt.Errorf("no %s Event on %s mentions %q", reason, obj.GetName(), text)
}

// TestRunnerSaysWhenAnImageRanOnTheHostsTools: an image of the host-tools list is not pulled,
// and the Job's Event and the container's log say which root ran.
func TestRunnerSaysWhenAnImageRanOnTheHostsTools(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	r := startRunner(t, 0)
	job := requestJob(t, ctx, appConfigAPI(t, ctx), "tools", "tools-", shPipeline("shell", "echo from the shell"))
	createJob(t, ctx, job)
	waitFor(t, "the Job completes", func() error { return jobDone(ctx, job, jobComplete) })
	log := logOf(t, r, job, 1, "shell")
	if !strings.HasPrefix(log, "kratix: image busybox was not pulled: it ran on the host's tools") || !strings.Contains(log, "from the shell") {
		t.Errorf("the container's log:\n%s", log)
	}
	waitFor(t, "a HostTools Event", func() error { return eventOn(ctx, job, ReasonHostTools, "image busybox was not pulled") })
	if _, err := os.Stat(filepath.Join(r.DataDir, "jobs", job.Namespace, job.Name, "engine")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the engine steps' kubeconfig, with its token, outlived the Job: %v", err)
	}

	// The next Job of the image says it in its log only: an Event per Job would be a write per
	// request at scale.
	again := requestJob(t, ctx, appConfigAPI(t, ctx), "tools", "tools-again-", shPipeline("shell", "echo again"))
	createJob(t, ctx, again)
	waitFor(t, "the second Job completes", func() error { return jobDone(ctx, again, jobComplete) })
	if log := logOf(t, r, again, 1, "shell"); !strings.HasPrefix(log, "kratix: image busybox was not pulled") {
		t.Errorf("the second container's log:\n%s", log)
	}
	time.Sleep(time.Second) // Events are sent in the background: give a wrong one time to arrive
	if err := eventOn(ctx, again, ReasonHostTools, "busybox"); err == nil {
		t.Error("the second Job of the image has a HostTools Event too")
	}
}

// TestRunnerRunsOnlyItsOwnEngineSteps: a container that claims the engine's adapter by its
// command runs in the sandbox like any other (where no kratix binary is); a container with an
// engine step's name runs the runner's own step, whatever command it gives.
func TestRunnerRunsOnlyItsOwnEngineSteps(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	api := appConfigAPI(t, ctx)
	startRunner(t, 0)

	// The Job builder refuses such a Promise (pipeline.checkReserved); a Job can still be written
	// by hand.
	posing := requestJob(t, ctx, api, "posing", "posing-", shPipeline("render", "true"))
	render := &posing.Spec.Template.Spec.InitContainers[1]
	render.Command, render.Args = []string{pipeline.DefaultAdapterCommand}, []string{pipeline.AdapterSubcommand, pipeline.ContainerWorkWriter}
	createJob(t, ctx, posing)
	waitFor(t, "the posing Job fails", func() error { return jobDone(ctx, posing, finished) })
	if c := condition(posing, batchv1.JobFailed); c == nil || !strings.Contains(c.Message, `command "kratix" is not in the container's PATH`) {
		t.Errorf("the container posing as the adapter: %+v", posing.Status.Conditions)
	}

	marker := filepath.Join(t.TempDir(), "ran-the-forged-command")
	forged := requestJob(t, ctx, api, "forged", "forged-", shPipeline("quick", "true"))
	forged.Spec.Template.Spec.InitContainers[0].Command = []string{"sh", "-c", "touch " + marker}
	createJob(t, ctx, forged)
	waitFor(t, "the forged Job finishes", func() error { return jobDone(ctx, forged, finished) })
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("the runner ran a command given to its %s step", forged.Spec.Template.Spec.InitContainers[0].Name)
	}
	if condition(forged, batchv1.JobComplete) == nil {
		t.Errorf("the Job with the runner's own reader did not complete: %+v", forged.Status.Conditions)
	}
}

// TestRunnerEndsJobsPastTheirDeadline: a Job that never ends fails at its activeDeadlineSeconds
// with every process of its container gone, and a Job deleted while it runs has its containers
// killed at once.
func TestRunnerEndsJobsPastTheirDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	api := appConfigAPI(t, ctx)
	startRunner(t, 1) // one slot: the deleted Job must give it back
	endless := requestJob(t, ctx, api, "endless", "endless-", shPipeline("endless", "setsid sleep 4343 & sleep 4344"))
	deadline := int64(2)
	endless.Spec.ActiveDeadlineSeconds = &deadline
	createJob(t, ctx, endless)
	waitFor(t, "the endless Job fails", func() error { return jobDone(ctx, endless, finished) })
	c := condition(endless, batchv1.JobFailed)
	if c == nil || c.Reason != batchv1.JobReasonDeadlineExceeded || !strings.Contains(c.Message, "deadline (2s)") {
		t.Errorf("the endless Job: %+v", endless.Status.Conditions)
	}
	if took := c.LastTransitionTime.Sub(endless.Status.StartTime.Time); took > 10*time.Second {
		t.Errorf("the deadline of 2 s ended the Job after %s", took)
	}
	for _, p := range []string{"sleep 4343", "sleep 4344"} {
		if processRunning(p) {
			t.Errorf("%q outlived its Job's deadline", p)
		}
	}

	deleted := requestJob(t, ctx, api, "deleted", "deleted-", shPipeline("endless", "sleep 4345"))
	createJob(t, ctx, deleted)
	waitFor(t, "the container starts", func() error {
		if !processRunning("sleep 4345") {
			return fmt.Errorf("not running")
		}
		return nil
	})
	if err := env.Client.Delete(ctx, deleted, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted Job's container ends", func() error {
		if processRunning("sleep 4345") {
			return fmt.Errorf("still running")
		}
		return nil
	})
	next := requestJob(t, ctx, api, "next", "next-", shPipeline("quick", "true"))
	createJob(t, ctx, next)
	waitFor(t, "the next Job takes the slot and completes", func() error { return jobDone(ctx, next, jobComplete) })
}

// TestRunnerTrimsItsImageCache: the runner trims its image cache to its budget (at its start,
// then every pruneEvery): what no running container holds goes.
func TestRunnerTrimsItsImageCache(t *testing.T) {
	registry := imagetest.Registry(t)
	ref := registry + "/big:1"
	imagetest.Push(t, ref, imagetest.Build(t, empty.Image, map[string]imagetest.File{
		"data": {Content: strings.Repeat("x", 1<<20), Mode: 0o644}}, nil))
	cache, err := image.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img, err := cache.Image(t.Context(), ref, corev1.PullIfNotPresent)
	if err != nil {
		t.Fatal(err)
	}
	_, release, err := cache.RootFS(t.Context(), img)
	if err != nil {
		t.Fatal(err)
	}
	release()
	const budget = 64 << 10
	if size, err := cache.Size(); err != nil || size <= budget {
		t.Fatalf("the cache holds %d bytes before the runner starts (%v); the test needs more than %d", size, err, budget)
	}
	_, stop := startRunnerWith(t, 0, func(r *Runner) { r.Images, r.ImageCacheBytes = cache, budget })
	t.Cleanup(func() { _ = stop() })
	waitFor(t, "the cache within its budget", func() error {
		if size, err := cache.Size(); err != nil || size > budget {
			return fmt.Errorf("%d bytes (%v)", size, err)
		}
		return nil
	})
}
