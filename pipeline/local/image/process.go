package image

import (
	"errors"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
)

// Process is what a container runs, from its image's config and its spec, by Kubernetes' rules.
type Process struct {
	// Args is the program and its arguments.
	Args []string
	// Env holds NAME=value pairs: the image's, with the container's in place of those it
	// names too, then the container's others in their order.
	Env []string
	// Dir is the working directory: the container's, else the image's, else "/".
	Dir string
	// User is the image's user ("uid[:gid]" or a name), unless the container's security context
	// sets runAsUser; empty for root.
	User string
}

// ErrNoCommand: neither the container nor its image says what to run.
var ErrNoCommand = errors.New("the container has no command and its image no entrypoint or cmd")

// ProcessOf applies Kubernetes' rules: the container's command replaces the image's Entrypoint
// and, when given, its args replace the image's Cmd; a command without args runs without the
// image's Cmd. Env values are taken as written (the runner expands $(VAR) references, as the
// kubelet does, before this).
func ProcessOf(cfg v1.Config, c corev1.Container, env []corev1.EnvVar) (Process, error) {
	var args []string
	switch {
	case len(c.Command) > 0:
		args = append(append(args, c.Command...), c.Args...)
	case len(c.Args) > 0:
		args = append(append(args, cfg.Entrypoint...), c.Args...)
	default:
		args = append(append(args, cfg.Entrypoint...), cfg.Cmd...)
	}
	if len(args) == 0 {
		return Process{}, ErrNoCommand
	}
	p := Process{Args: args, Dir: "/", User: cfg.User}
	if cfg.WorkingDir != "" {
		p.Dir = cfg.WorkingDir
	}
	if c.WorkingDir != "" {
		p.Dir = c.WorkingDir
	}
	if sc := c.SecurityContext; sc != nil && sc.RunAsUser != nil {
		p.User = strconv.FormatInt(*sc.RunAsUser, 10)
		if sc.RunAsGroup != nil {
			p.User += ":" + strconv.FormatInt(*sc.RunAsGroup, 10)
		}
	}
	p.Env = mergeEnv(cfg.Env, env)
	return p, nil
}

// mergeEnv is the image's environment with the container's variables in place of those of the
// same name, and the container's others after it.
func mergeEnv(image []string, container []corev1.EnvVar) []string {
	out := make([]string, 0, len(image)+len(container))
	index := map[string]int{}
	set := func(name, value string) {
		if i, ok := index[name]; ok {
			out[i] = name + "=" + value
			return
		}
		index[name] = len(out)
		out = append(out, name+"="+value)
	}
	for _, kv := range image {
		name, value, _ := strings.Cut(kv, "=")
		set(name, value)
	}
	for _, e := range container {
		set(e.Name, e.Value)
	}
	return out
}
