package local

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"kratix.dev/kratix/pipeline/local/image/imagetest"
)

// BenchmarkContainerStart measures a container's start to exit, `true` as its process, in the
// sandbox of each kind, side by side: "legacy" is the host-process sandbox that came before
// (binds of the host's directories in a mount namespace, as root); "hosttools" is this sandbox
// on the host's tools; "image" is this sandbox on a cached image's root filesystem under an
// overlay. One op is one container.
func BenchmarkContainerStart(b *testing.B) {
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	rootfs := b.TempDir()
	if err := os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "true"), imagetest.Program(b, "package main\nfunc main() {}\n"), 0o755); err != nil {
		b.Fatal(err)
	}
	env := []string{"PATH=" + defaultPath}
	input := b.TempDir()
	binds := []Bind{{Source: input, Target: "/kratix/input", ReadOnly: true}, {Source: b.TempDir(), Target: "/kratix/output"}}
	for _, tc := range []struct {
		name string
		run  func(ctx context.Context, dir string) error
	}{
		{"legacy", func(ctx context.Context, dir string) error {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			cmd, err := legacyCommand(ctx, self, legacySpec{Args: []string{"true"}, Env: env, Binds: binds, Root: dir})
			if err != nil {
				return err
			}
			return cmd.Run()
		}},
		{"hosttools", func(ctx context.Context, dir string) error {
			cmd, err := Command(ctx, self, Spec{Args: []string{"true"}, Env: env, Binds: binds, HostTools: true, Dir: dir})
			if err != nil {
				return err
			}
			return cmd.Run()
		}},
		{"image", func(ctx context.Context, dir string) error {
			cmd, err := Command(ctx, self, Spec{Args: []string{"/bin/true"}, Env: env, Binds: binds, RootFS: rootfs, Dir: dir})
			if err != nil {
				return err
			}
			return cmd.Run()
		}},
	} {
		b.Run("sandbox="+tc.name, func(b *testing.B) {
			base := b.TempDir()
			for i := 0; b.Loop(); i++ {
				dir := filepath.Join(base, "c", string(rune('a'+i%26)))
				if err := tc.run(b.Context(), dir); err != nil {
					b.Fatalf("%s: %v", tc.name, err)
				}
				if err := RemoveAll(dir); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
