package install

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"kratix.dev/kratix/internal/testenv"
	"kratix.dev/kratix/pipeline"
)

const adapterImageEnv = "KRATIX_PIPELINE_ADAPTER_IMAGE"

// managerContainer returns the Deployment and its manager container.
func managerContainer(t *testing.T, m *manifests) (*appsv1.Deployment, corev1.Container) {
	t.Helper()
	d := as[appsv1.Deployment](t, m.find(t, "Deployment", deployment))
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "manager" {
			return d, c
		}
	}
	t.Fatalf("Deployment %s has no container named manager", deployment)
	return nil, corev1.Container{}
}

// The manager runs as a non-root user on a read-only root filesystem without capabilities,
// with its probes and metrics where the flags put them, under its own ServiceAccount.
func TestManagerDeploymentIsHardened(t *testing.T) {
	d, c := managerContainer(t, install(t))
	pod := d.Spec.Template.Spec

	if pod.ServiceAccountName != serviceAccount {
		t.Errorf("serviceAccountName %q, want %q", pod.ServiceAccountName, serviceAccount)
	}
	if d.Namespace != namespace {
		t.Errorf("namespace %q, want %q", d.Namespace, namespace)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || !slices.Contains(c.Args, "--leader-elect") {
		t.Errorf("want one replica with --leader-elect; replicas %v, args %q", d.Spec.Replicas, c.Args)
	}

	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || sc == nil {
		t.Fatal("the pod and the container need a securityContext")
	}
	if !isTrue(psc.RunAsNonRoot) && !isTrue(sc.RunAsNonRoot) {
		t.Error("runAsNonRoot is not set")
	}
	if uid := psc.RunAsUser; uid == nil || *uid == 0 {
		t.Errorf("runAsUser %v: want a numeric non-root user, so that the kubelet can check runAsNonRoot", uid)
	}
	if !isTrue(sc.ReadOnlyRootFilesystem) {
		t.Error("readOnlyRootFilesystem is not set")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Errorf("capabilities %+v, want drop ALL and no add", sc.Capabilities)
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("privileged")
	}
	if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccompProfile %+v, want RuntimeDefault", psc.SeccompProfile)
	}

	// The read-only root needs a writable /tmp (the Git writer's known_hosts files).
	tmpVolume := ""
	for _, vm := range c.VolumeMounts {
		if vm.MountPath == "/tmp" && !vm.ReadOnly {
			tmpVolume = vm.Name
		}
	}
	if i := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == tmpVolume }); tmpVolume == "" || i < 0 || pod.Volumes[i].EmptyDir == nil {
		t.Errorf("/tmp is not a writable emptyDir: mounts %+v", c.VolumeMounts)
	}

	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", p.name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || containerPort(c, p.probe.HTTPGet.Port) != 8081 {
			t.Errorf("%s probe gets %s on port %s, want %s on 8081", p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path)
		}
	}
	if !slices.Contains(c.Args, "--health-probe-bind-address=:8081") || !slices.Contains(c.Args, "--metrics-bind-address=:8080") {
		t.Errorf("args %q: want the probes on :8081 and metrics on :8080", c.Args)
	}
	if containerPort(c, intstr.FromString("metrics")) != 8080 {
		t.Errorf("no container port named metrics on 8080: %+v", c.Ports)
	}

	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("no %s request", r)
		}
		if _, ok := c.Resources.Limits[r]; !ok {
			t.Errorf("no %s limit", r)
		}
	}
}

// The metrics Service selects the manager's pods and reaches its metrics port.
func TestMetricsServiceReachesTheManager(t *testing.T) {
	m := install(t)
	d, c := managerContainer(t, m)
	svc := as[corev1.Service](t, m.find(t, "Service", "kratix-manager-metrics"))
	if svc.Namespace != namespace {
		t.Errorf("namespace %q, want %q", svc.Namespace, namespace)
	}
	if len(svc.Spec.Selector) == 0 {
		t.Fatal("the Service selects nothing")
	}
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the manager's pod labels %v", k, v, d.Spec.Template.Labels)
		}
	}
	if len(svc.Spec.Ports) != 1 || containerPort(c, svc.Spec.Ports[0].TargetPort) != 8080 {
		t.Errorf("ports %+v, want one that targets the manager's metrics port 8080", svc.Spec.Ports)
	}
}

// The image is set in one place: pipeline Jobs get the manager's own image for their adapter
// containers, also when `make install-manifests IMG=...` changes it.
func TestOneImageForManagerAndPipelineAdapter(t *testing.T) {
	_, c := managerContainer(t, install(t))
	if c.Image != "ghcr.io/kratix-dev/kratix:latest" {
		t.Errorf("image %q, want config/default's ghcr.io/kratix-dev/kratix:latest", c.Image)
	}
	if got := adapterImage(t, c); got != c.Image {
		t.Errorf("pipeline adapter image %q, want the manager's %q", got, c.Image)
	}

	// What `make install-manifests IMG=...` does, on a copy of config/.
	root := repoRoot(t)
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "config"), os.DirFS(filepath.Join(root, "config"))); err != nil {
		t.Fatal(err)
	}
	const img = "registry.example.com/platform/kratix:v1.2.3"
	if _, err := kustomize(root, filepath.Join(dir, "config", "default"), "edit", "set", "image", "kratix="+img); err != nil {
		t.Fatal(err)
	}
	m, err := kustomizeBuild(root, filepath.Join(dir, "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	_, c = managerContainer(t, m)
	if c.Image != img {
		t.Errorf("image %q after IMG=%s", c.Image, img)
	}
	if got := adapterImage(t, c); got != img {
		t.Errorf("pipeline adapter image %q after IMG=%s", got, img)
	}
	// The placeholder in config/manager is the engine's default adapter image, so that a manager
	// started without the flag still names a kratix image.
	if name, _, _ := strings.Cut(pipeline.DefaultAdapterImage, ":"); name != "kratix" {
		t.Errorf("pipeline.DefaultAdapterImage %q no longer matches the placeholder image name kratix in config/manager; update config/default's images:", pipeline.DefaultAdapterImage)
	}
}

// adapterImage is the --pipeline-adapter-image the container passes, with $(VAR) expanded from
// its environment as the kubelet does.
func adapterImage(t *testing.T, c corev1.Container) string {
	t.Helper()
	for _, arg := range expandedArgs(c) {
		if v, ok := strings.CutPrefix(arg, "--pipeline-adapter-image="); ok {
			return v
		}
	}
	t.Fatalf("the manager does not pass --pipeline-adapter-image: %q", c.Args)
	return ""
}

// Every flag that the Deployment passes is one that `kratix manager` knows, with a value it
// accepts: the binary parses the Deployment's arguments followed by -h, which stops it at the
// help text when they all parse and fails with a usage error otherwise. The image's other role,
// the adapter steps of pipeline Jobs, is in the same binary.
func TestManagerAcceptsTheDeploymentsFlags(t *testing.T) {
	_, c := managerContainer(t, install(t))
	if len(c.Command) != 1 || filepath.Base(c.Command[0]) != pipeline.DefaultAdapterCommand {
		t.Errorf("command %q, want the kratix binary", c.Command)
	}
	args := expandedArgs(c)
	if len(args) == 0 || args[0] != "manager" {
		t.Fatalf("args %q, want the manager subcommand first", c.Args)
	}

	bin := filepath.Join(t.TempDir(), "kratix")
	build := exec.CommandContext(testenv.Context(t), "go", "build", "-o", bin, "./cmd/kratix")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kratix: %v\n%s", err, out)
	}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.CommandContext(testenv.Context(t), bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Errorf("kratix %s: %v\n%s", strings.Join(args, " "), err, lastLine(stderr.String()))
		}
	}
	run(append(slices.Clone(args), "-h")...)
	for _, step := range []string{"reader", "work-writer", "status-writer"} {
		run("pipeline-adapter", step, "-h")
	}
}

// expandedArgs are the container's arguments with $(VAR) references to its literal environment
// variables replaced, as the kubelet does.
func expandedArgs(c corev1.Container) []string {
	var pairs []string
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			pairs = append(pairs, "$("+e.Name+")", e.Value)
		}
	}
	r := strings.NewReplacer(pairs...)
	out := make([]string, len(c.Args))
	for i, a := range c.Args {
		out[i] = r.Replace(a)
	}
	return out
}

// containerPort resolves a probe's or Service's port, by number or by name, to the container's
// port number; 0 when it names none.
func containerPort(c corev1.Container, port intstr.IntOrString) int32 {
	if port.Type == intstr.Int {
		return port.IntVal
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return p.ContainerPort
		}
	}
	return 0
}

func isTrue(b *bool) bool { return b != nil && *b }

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
