package pipeline

import (
	corev1 "k8s.io/api/core/v1"

	"kratix.dev/kratix/api/v1alpha1"
)

// Defaults of Options.
const (
	// DefaultAdapterImage runs the engine's own containers of every pipeline Job.
	DefaultAdapterImage = "kratix:latest"
	// DefaultAdapterCommand is the kratix binary inside the adapter image, found on its PATH.
	DefaultAdapterCommand = "kratix"
	// DefaultAdapterPullPolicy pulls the adapter image only when the node does not have it.
	DefaultAdapterPullPolicy = corev1.PullIfNotPresent
	// DefaultBackoffLimit is the Job's retry count when a pipeline sets none: a pipeline that
	// fails is reported at once instead of being re-run with the same inputs.
	DefaultBackoffLimit int32 = 0
)

// Options are the engine's settings that every pipeline Job shares. The zero value is usable:
// each empty field takes its default.
type Options struct {
	// AdapterImage runs the reader, work-writer and status-writer containers.
	AdapterImage string
	// AdapterCommand is the kratix binary in AdapterImage; its arguments are
	// "pipeline-adapter <reader|work-writer|status-writer>".
	AdapterCommand string
	// AdapterPullPolicy for AdapterImage.
	AdapterPullPolicy corev1.PullPolicy
	// PlatformNamespace is where Promise workflows run (and resource workflows of cluster-scoped
	// requests without a pipelineNamespace).
	PlatformNamespace string
	// EngineServiceAccount is the engine's own ServiceAccount, namespace/name, which no pipeline
	// may run as; empty when the engine does not run as one (kratix local).
	EngineServiceAccount string
}

// withDefaults fills the empty fields of o.
func (o Options) withDefaults() Options {
	if o.AdapterImage == "" {
		o.AdapterImage = DefaultAdapterImage
	}
	if o.AdapterCommand == "" {
		o.AdapterCommand = DefaultAdapterCommand
	}
	if o.AdapterPullPolicy == "" {
		o.AdapterPullPolicy = DefaultAdapterPullPolicy
	}
	if o.PlatformNamespace == "" {
		o.PlatformNamespace = v1alpha1.DefaultPlatformNS
	}
	return o
}
