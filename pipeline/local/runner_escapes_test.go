package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"kratix.dev/kratix/pipeline"
)

// TestRunnerSubPathStaysInItsVolume: a container plants, in a volume it writes, a symbolic link
// that climbs to a directory of the host; a later container of the Job mounts the volume with
// that link as its subPath. A kubelet refuses a subPath that resolves outside its volume; so
// must the runner, or the second container has the host's files read-write.
func TestRunnerSubPathStaysInItsVolume(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	api := appConfigAPI(t, ctx)
	r := startRunner(t, 0)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "host-secret"), []byte("the-host-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(host, "written-through-a-subpath")

	job := requestJob(t, ctx, api, "subpath", "subpath-", shPipeline("plant", "true"))
	spec := &job.Spec.Template.Spec
	plant := spec.InitContainers[1]
	volume := ""
	for _, m := range plant.VolumeMounts {
		if m.MountPath == pipeline.MountOutput {
			volume = m.Name
		}
	}
	volumeDir := filepath.Join(r.DataDir, "jobs", job.Namespace, job.Name, "volumes", volume)
	climb, err := filepath.Rel(volumeDir, host)
	if err != nil {
		t.Fatal(err)
	}
	// Links out of the volume: relative, absolute, and a directory of the volume that is one.
	spec.InitContainers[1].Args = []string{"ln -s " + climb + " /kratix/output/escape && mkdir /kratix/output/d && ln -s ../" + climb + " /kratix/output/d/up"}
	follow := plant
	follow.Name = "follow"
	follow.Args = []string{"cat /host/host-secret; echo x > /host/written-through-a-subpath; rm -rf /kratix/output/escape /kratix/output/d"}
	var attempts []*batchv1.Job
	for _, subPath := range []string{"escape", "d/up"} {
		j := job.DeepCopy()
		if subPath != "escape" {
			j.Name += "-2"
			volumeDir = filepath.Join(r.DataDir, "jobs", j.Namespace, j.Name, "volumes", volume)
			if climb, err = filepath.Rel(volumeDir, host); err != nil {
				t.Fatal(err)
			}
			j.Spec.Template.Spec.InitContainers[1].Args = []string{"mkdir /kratix/output/d && ln -s ../" + climb + " /kratix/output/d/up"}
		}
		f := follow
		f.VolumeMounts = append(append([]corev1.VolumeMount{}, follow.VolumeMounts...), corev1.VolumeMount{Name: volume, MountPath: "/host", SubPath: subPath})
		s := &j.Spec.Template.Spec
		s.InitContainers = append(s.InitContainers[:2:2], append([]corev1.Container{f}, s.InitContainers[2:]...)...)
		createJob(t, ctx, j)
		attempts = append(attempts, j)
	}
	for _, j := range attempts {
		waitFor(t, "Job "+j.Name+" finishes", func() error { return jobDone(ctx, j, finished) })
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("Job %s: a container wrote %s on the host through a subPath", j.Name, marker)
			os.Remove(marker)
		}
		if log := logOf(t, r, j, 2, "follow"); strings.Contains(log, "the-host-secret") {
			t.Errorf("Job %s: a container read the host through a subPath:\n%s", j.Name, log)
		}
		if c := condition(j, batchv1.JobFailed); c == nil || !strings.Contains(c.Message, "subPath") {
			t.Errorf("Job %s: want it failed for its subPath: %+v", j.Name, j.Status.Conditions)
		}
	}
}

// TestRunnerEngineStepsTakeOnlyTheEnginesVariables: the engine's steps run as the host's kratix
// binary, outside the sandbox; a hand-made Job that gives one of them variables of its own
// (LD_PRELOAD of a library a container left in a volume, GODEBUG, the sandbox's spec file that
// turns the binary into a sandbox's init with a spec of the Job's choosing) would run code on
// the host. Such a Job fails, and the step does not start.
func TestRunnerEngineStepsTakeOnlyTheEnginesVariables(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	api := appConfigAPI(t, ctx)
	r := startRunner(t, 0)
	for _, v := range []corev1.EnvVar{
		{Name: "GODEBUG", Value: "inittrace=1"},
		{Name: "LD_PRELOAD", Value: "/nonexistent/kratix-preload.so"},
		{Name: childEnv, Value: "/nonexistent/spec.json"},
	} {
		job := requestJob(t, ctx, api, "engineenv", "engineenv-", shPipeline("quick", "true"))
		reader := &job.Spec.Template.Spec.InitContainers[0]
		reader.Env = append(reader.Env, v)
		createJob(t, ctx, job)
		waitFor(t, "Job "+job.Name+" finishes", func() error { return jobDone(ctx, job, finished) })
		if c := condition(job, batchv1.JobFailed); c == nil || !strings.Contains(c.Message, v.Name) {
			t.Errorf("%s given to the reader: want the Job failed, naming it: %+v", v.Name, job.Status.Conditions)
		}
		if data, err := os.ReadFile(filepath.Join(r.DataDir, "jobs", job.Namespace, job.Name, "logs", "00-reader.log")); err == nil {
			t.Errorf("%s given to the reader: it ran:\n%s", v.Name, data)
		}
	}
}

// TestRunnerReaderWritesOnlyInItsVolume: the reader runs on the host, where the input volume is
// a directory; a hand-made Job whose container runs before it and leaves object.yaml as a
// symbolic link to a file of the host must not have the reader overwrite that file.
func TestRunnerReaderWritesOnlyInItsVolume(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	api := appConfigAPI(t, ctx)
	startRunner(t, 0)
	hostFile := filepath.Join(t.TempDir(), "bashrc")
	if err := os.WriteFile(hostFile, []byte("the host's file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	job := requestJob(t, ctx, api, "readerlink", "readerlink-", shPipeline("quick", "true"))
	spec := &job.Spec.Template.Spec
	plant := spec.InitContainers[1]
	plant.Name = "plant"
	plant.Args = []string{"ln -s " + hostFile + " /kratix/input/object.yaml"}
	plant.VolumeMounts = append([]corev1.VolumeMount{}, plant.VolumeMounts...)
	for i := range plant.VolumeMounts {
		plant.VolumeMounts[i].ReadOnly = false
	}
	spec.InitContainers = append([]corev1.Container{plant}, spec.InitContainers...)
	createJob(t, ctx, job)
	waitFor(t, "the Job finishes", func() error { return jobDone(ctx, job, finished) })
	if data, err := os.ReadFile(hostFile); err != nil || string(data) != "the host's file\n" {
		t.Errorf("the reader wrote the host's file through a link: %q, %v", data, err)
	}
}

// TestRunnerKeepsJobsFromOtherUsers: a Job's directory holds its Secrets' keys, its logs and the
// kubeconfig of its ServiceAccount, the image cache what private registries served; however the
// data directory was made (an existing --data-dir keeps its mode), no other user of the machine
// reaches them.
func TestRunnerKeepsJobsFromOtherUsers(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	api := appConfigAPI(t, ctx)
	r := startRunner(t, 0)
	if err := os.Chmod(r.DataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	job := requestJob(t, ctx, api, "modes", "modes-", shPipeline("quick", "true"))
	createJob(t, ctx, job)
	waitFor(t, "the Job completes", func() error { return jobDone(ctx, job, jobComplete) })
	for _, d := range []string{"jobs", "images"} {
		info, err := os.Stat(filepath.Join(r.DataDir, d))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v: other users reach it", d, info.Mode().Perm())
		}
	}
}
