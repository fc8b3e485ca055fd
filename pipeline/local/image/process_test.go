package image

import (
	"errors"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// TestProcessOf: what a container runs follows Kubernetes' rules for command and args against the
// image's Entrypoint and Cmd, and takes the working directory, environment and user from the
// container first, then the image.
func TestProcessOf(t *testing.T) {
	cfg := v1.Config{Entrypoint: []string{"/bin/render"}, Cmd: []string{"--all"}, WorkingDir: "/work", User: "1000",
		Env: []string{"PATH=/usr/bin:/bin", "MODE=image"}}
	for _, tc := range []struct {
		name     string
		cfg      v1.Config
		c        corev1.Container
		env      []corev1.EnvVar
		wantArgs []string
		wantDir  string
		wantUser string
		wantEnv  []string
		wantErr  error
	}{
		{name: "the image's entrypoint and cmd", cfg: cfg, wantArgs: []string{"/bin/render", "--all"}, wantDir: "/work", wantUser: "1000",
			wantEnv: []string{"PATH=/usr/bin:/bin", "MODE=image"}},
		{name: "args replace cmd", cfg: cfg, c: corev1.Container{Args: []string{"--one"}}, wantArgs: []string{"/bin/render", "--one"}, wantDir: "/work", wantUser: "1000",
			wantEnv: []string{"PATH=/usr/bin:/bin", "MODE=image"}},
		{name: "command replaces both", cfg: cfg, c: corev1.Container{Command: []string{"sh", "-c", "true"}}, wantArgs: []string{"sh", "-c", "true"}, wantDir: "/work", wantUser: "1000",
			wantEnv: []string{"PATH=/usr/bin:/bin", "MODE=image"}},
		{name: "command and args", cfg: cfg, c: corev1.Container{Command: []string{"sh"}, Args: []string{"-c", "true"}}, wantArgs: []string{"sh", "-c", "true"}, wantDir: "/work", wantUser: "1000",
			wantEnv: []string{"PATH=/usr/bin:/bin", "MODE=image"}},
		{name: "the container's env, dir and user win", cfg: cfg,
			c:        corev1.Container{WorkingDir: "/tmp", SecurityContext: &corev1.SecurityContext{RunAsUser: ptr.To[int64](0), RunAsGroup: ptr.To[int64](0)}},
			env:      []corev1.EnvVar{{Name: "MODE", Value: "container"}, {Name: "EXTRA", Value: "1"}},
			wantArgs: []string{"/bin/render", "--all"}, wantDir: "/tmp", wantUser: "0:0",
			wantEnv: []string{"PATH=/usr/bin:/bin", "MODE=container", "EXTRA=1"}},
		{name: "an image that says nothing runs from /", cfg: v1.Config{Cmd: []string{"/app"}}, wantArgs: []string{"/app"}, wantDir: "/", wantEnv: []string{}},
		{name: "nothing to run", cfg: v1.Config{}, wantErr: ErrNoCommand},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ProcessOf(tc.cfg, tc.c, tc.env)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if !slices.Equal(p.Args, tc.wantArgs) || p.Dir != tc.wantDir || p.User != tc.wantUser || !slices.Equal(p.Env, tc.wantEnv) {
				t.Errorf("got %+v, want args %q dir %q user %q env %q", p, tc.wantArgs, tc.wantDir, tc.wantUser, tc.wantEnv)
			}
		})
	}
}
