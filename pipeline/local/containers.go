package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/pipeline/local/image"
)

// Reasons of the Events the runner records on Jobs.
const (
	ReasonHostTools = "HostTools"
	ReasonPullError = "ErrImagePull"
)

// execute runs the Job's containers in order; it returns why the Job failed, or nil.
func (r *Runner) execute(ctx context.Context, job *batchv1.Job) error {
	dir := filepath.Join(r.DataDir, "jobs", job.Namespace, job.Name)
	if err := RemoveAll(dir); err != nil {
		return err
	}
	volumes, err := r.volumes(ctx, job, filepath.Join(dir, "volumes"))
	if err != nil {
		return err
	}
	pod := job.Spec.Template.Spec
	containers := append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...)
	// The pull secrets are read once, for the first image pulled: a Job of host-tools images only
	// reads none.
	keychain := sync.OnceValues(func() (authn.Keychain, error) { return r.keychain(ctx, job) })
	steps := &engineSteps{r: r, job: job, dir: filepath.Join(dir, "engine")}
	defer steps.cleanup()
	for i, c := range containers {
		logFile := filepath.Join(dir, "logs", fmt.Sprintf("%02d-%s.log", i, c.Name))
		if isEngineStep(c) {
			err = steps.run(ctx, c, volumes, logFile)
		} else {
			err = r.userContainer(ctx, job, c, volumes, keychain, logFile, filepath.Join(dir, "containers", c.Name))
		}
		if err != nil {
			return fmt.Errorf("container %q: %w", c.Name, err)
		}
	}
	return nil
}

// volumes makes a host directory for each volume of the Job: empty for an emptyDir, holding the
// keys of a ConfigMap or Secret.
func (r *Runner) volumes(ctx context.Context, job *batchv1.Job, root string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range job.Spec.Template.Spec.Volumes {
		dir := filepath.Join(root, v.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		var data map[string][]byte
		switch {
		case v.EmptyDir != nil:
		case v.ConfigMap != nil:
			cm := &corev1.ConfigMap{}
			if err := r.Client.Get(ctx, client.ObjectKey{Namespace: job.Namespace, Name: v.ConfigMap.Name}, cm); err != nil {
				return nil, fmt.Errorf("volume %q: %w", v.Name, err)
			}
			data = map[string][]byte{}
			for k, s := range cm.Data {
				data[k] = []byte(s)
			}
		case v.Secret != nil:
			s := &corev1.Secret{}
			if err := r.Client.Get(ctx, client.ObjectKey{Namespace: job.Namespace, Name: v.Secret.SecretName}, s); err != nil {
				return nil, fmt.Errorf("volume %q: %w", v.Name, err)
			}
			data = s.Data
		default:
			return nil, fmt.Errorf("volume %q: the local job runner supports emptyDir, configMap and secret volumes only", v.Name)
		}
		for k, content := range data {
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(k)), content, 0o644); err != nil {
				return nil, err
			}
		}
		out[v.Name] = dir
	}
	return out, nil
}

// keychain holds the Job's imagePullSecrets, as a kubelet reads them, then the user's Docker
// configuration. A pull secret that does not exist is passed over, as a kubelet does.
func (r *Runner) keychain(ctx context.Context, job *batchv1.Job) (authn.Keychain, error) {
	var secrets []corev1.Secret
	for _, ref := range job.Spec.Template.Spec.ImagePullSecrets {
		s := corev1.Secret{}
		err := r.Client.Get(ctx, client.ObjectKey{Namespace: job.Namespace, Name: ref.Name}, &s)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("image pull secret %q: %w", ref.Name, err)
		}
		secrets = append(secrets, s)
	}
	return image.Keychain(secrets)
}

// defaultPath is a container's PATH when its image sets none, as runtimes give it.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// userContainer runs a Promise's container from its image in a sandbox of its own.
func (r *Runner) userContainer(ctx context.Context, job *batchv1.Job, c corev1.Container, volumes map[string]string, keychain func() (authn.Keychain, error), logFile, dir string) error {
	if sc := c.SecurityContext; sc != nil && sc.Privileged != nil && *sc.Privileged {
		return errors.New("the local job runner does not run privileged containers")
	}
	env, err := plainEnv(c)
	if err != nil {
		return err
	}
	spec := Spec{Dir: dir, Hostname: hostname(job.Name), IsolateNetwork: r.IsolateNetwork}
	if sc := c.SecurityContext; sc != nil && sc.Capabilities != nil {
		for _, d := range sc.Capabilities.Drop {
			spec.DropCapabilities = append(spec.DropCapabilities, string(d))
		}
		for _, a := range sc.Capabilities.Add {
			spec.AddCapabilities = append(spec.AddCapabilities, string(a))
		}
	}
	var cfg v1.Config
	var note string
	if r.hostTools(c.Image) {
		spec.HostTools = true
		cfg.Env = []string{"PATH=" + defaultPath, "HOME=/tmp"}
		note = fmt.Sprintf("image %s was not pulled: it ran on the host's tools (a read-only root of the host's /usr, /bin and /lib), as the local runner's host-tools list says", c.Image)
		if _, noted := r.hostToolsNoted.LoadOrStore(c.Image, true); !noted {
			// Once per image while the runner runs: every container's log says it in its
			// first line, and an Event per Job would cost the API server a write each.
			r.Recorder.Eventf(job, corev1.EventTypeNormal, ReasonHostTools, "Container %s: %s (this Event is recorded for the first Job that runs the image; each container's log says it in its first line)", c.Name, note)
		}
	} else {
		rootfs, file, release, err := r.image(ctx, job, c, keychain)
		if err != nil {
			return err
		}
		defer release()
		cfg, spec.RootFS = file.Config, rootfs
		if !slices.ContainsFunc(cfg.Env, func(kv string) bool { return strings.HasPrefix(kv, "HOME=") }) {
			cfg.Env = append(cfg.Env, "HOME=/root")
		}
	}
	if !slices.ContainsFunc(cfg.Env, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") }) {
		cfg.Env = append([]string{"PATH=" + defaultPath}, cfg.Env...)
	}
	proc, err := image.ProcessOf(cfg, expandContainer(c, env), env)
	if err != nil {
		return fmt.Errorf("image %s: %w", c.Image, err)
	}
	spec.Args, spec.Env, spec.WorkDir, spec.User = proc.Args, proc.Env, proc.Dir, proc.User
	for _, m := range c.VolumeMounts {
		src, ok := volumes[m.Name]
		if !ok {
			return fmt.Errorf("volume mount %q names no volume", m.Name)
		}
		// The subPath is resolved in the sandbox, beneath the volume: an earlier container may
		// have left symbolic links in it that lead out of it.
		if m.SubPath != "" && !filepath.IsLocal(m.SubPath) {
			return fmt.Errorf("volume mount %q: subPath %q must be a relative path inside the volume", m.Name, m.SubPath)
		}
		spec.Binds = append(spec.Binds, Bind{Source: src, SubPath: m.SubPath, Target: m.MountPath, ReadOnly: m.ReadOnly})
	}
	defer func() {
		if err := RemoveAll(dir); err != nil {
			r.Log.Error(err, "remove a container's writable layer", "dir", dir)
		}
	}()
	cmd, err := Command(ctx, r.Self, spec)
	if err != nil {
		return err
	}
	return runLogged(cmd, logFile, note)
}

// image pulls the container's image as its pull policy says and holds its unpacked root
// filesystem until release.
func (r *Runner) image(ctx context.Context, job *batchv1.Job, c corev1.Container, keychains func() (authn.Keychain, error)) (string, *v1.ConfigFile, func(), error) {
	keychain, err := keychains()
	if err != nil {
		return "", nil, nil, err
	}
	for {
		img, err := r.Images.Image(ctx, c.Image, c.ImagePullPolicy, remote.WithContext(ctx), remote.WithAuthFromKeychain(keychain))
		if err != nil {
			err = fmt.Errorf("%s: %w", ReasonPullError, err)
			r.Recorder.Eventf(job, corev1.EventTypeWarning, ReasonPullError, "Container %s: %v", c.Name, err)
			return "", nil, nil, err
		}
		rootfs, release, err := r.Images.RootFS(ctx, img)
		if errors.Is(err, image.ErrEvicted) {
			continue // pruned between the pull and the unpack: pull it again
		}
		if err != nil {
			return "", nil, nil, fmt.Errorf("image %s: %w", c.Image, err)
		}
		file, err := img.ConfigFile()
		if err != nil {
			release()
			return "", nil, nil, fmt.Errorf("image %s: read its config: %w", c.Image, err)
		}
		return rootfs, file, release, nil
	}
}

// hostTools says whether the image is one that runs on the host's tools.
func (r *Runner) hostTools(ref string) bool {
	parsed, err := name.ParseReference(ref)
	if err != nil {
		return false
	}
	repo := parsed.Context()
	for _, listed := range r.HostTools {
		l, err := name.NewRepository(listed)
		if err == nil && l.Name() == repo.Name() {
			return true
		}
	}
	return false
}

// hostname is the sandbox's hostname: the Job's name, cut to a DNS label.
func hostname(job string) string {
	if len(job) > 63 {
		job = strings.TrimRight(job[:63], "-.")
	}
	return job
}

// plainEnv is the container's environment with $(VAR) references expanded, as a kubelet does;
// valueFrom and envFrom are not supported locally.
func plainEnv(c corev1.Container) ([]corev1.EnvVar, error) {
	if len(c.EnvFrom) > 0 {
		return nil, errors.New("envFrom: the local job runner supports plain env values only")
	}
	seen := map[string]string{}
	out := make([]corev1.EnvVar, 0, len(c.Env))
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			return nil, fmt.Errorf("env %s: the local job runner supports plain values only", e.Name)
		}
		v := expand(e.Value, seen)
		seen[e.Name] = v
		out = append(out, corev1.EnvVar{Name: e.Name, Value: v})
	}
	return out, nil
}

// expandContainer expands $(VAR) references in the container's command and args.
func expandContainer(c corev1.Container, env []corev1.EnvVar) corev1.Container {
	vars := map[string]string{}
	for _, e := range env {
		vars[e.Name] = e.Value
	}
	out := c
	out.Command, out.Args = nil, nil
	for _, s := range c.Command {
		out.Command = append(out.Command, expand(s, vars))
	}
	for _, s := range c.Args {
		out.Args = append(out.Args, expand(s, vars))
	}
	return out
}

// expand replaces $(NAME) by the variable's value when it is defined and $$ by $, leaving
// anything else as written, by Kubernetes' rules for command, args and env.
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '(':
			if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
				if v, ok := vars[s[i+2:i+2+end]]; ok {
					b.WriteString(v)
					i += 2 + end
					continue
				}
			}
		}
		b.WriteByte('$')
	}
	return b.String()
}

// runLogged runs cmd with its output in logFile (after note, when given, so that the log says
// what ran) and returns why it failed, with the end of its output.
func runLogged(cmd *exec.Cmd, logFile, note string) error {
	out, err := openLog(logFile)
	if err != nil {
		return err
	}
	defer out.Close()
	if note != "" {
		if _, err := fmt.Fprintf(out, "kratix: %s\n", note); err != nil {
			return err
		}
	}
	cmd.Stdout, cmd.Stderr = out, out
	runErr := cmd.Run()
	if runErr == nil {
		return nil
	}
	var exit *exec.ExitError
	if errors.As(runErr, &exit) && exit.ExitCode() >= 0 {
		return fmt.Errorf("exited with status %d: %s", exit.ExitCode(), tail(out, 1024))
	}
	if cmd.ProcessState != nil {
		return fmt.Errorf("killed (%v): %s", runErr, tail(out, 1024))
	}
	return runErr
}

// openLog creates or truncates a container's log file.
func openLog(logFile string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(logFile), 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(logFile, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
}

// tail is the end of a container's log, for the Job's failure message.
func tail(f *os.File, n int64) string {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return ""
	}
	from := max(size-n, 0)
	buf := make([]byte, size-from)
	if _, err := f.ReadAt(buf, from); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	s := strings.TrimSpace(string(buf))
	if from > 0 {
		s = "..." + s
	}
	return s
}
