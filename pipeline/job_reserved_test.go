package pipeline

import (
	"strings"
	"testing"

	"kratix.dev/kratix/api/v1alpha1"
)

// TestBuildRefusesTheEnginesSteps: a pipeline's container may not run the engine's own steps,
// by its image (the adapter image however it is written, any tag) or by a command line that runs
// `kratix pipeline-adapter`. BuildJob and BuildAccess both refuse it, naming the container;
// containers that merely look alike are accepted.
func TestBuildRefusesTheEnginesSteps(t *testing.T) {
	custom := Options{AdapterImage: "ghcr.io/acme/kratix:v1.2", AdapterCommand: "/usr/local/bin/kratix"}
	tests := []struct {
		name    string
		opts    Options
		image   string
		command []string
		args    []string
		want    string // "" when the container is accepted
	}{
		{"the default adapter image as written", Options{}, "kratix:latest", []string{"render"}, nil, `image "kratix:latest" is the engine's own`},
		{"the default adapter image without a tag", Options{}, "kratix", []string{"render"}, nil, `image "kratix" is the engine's own`},
		{"the default adapter image fully qualified", Options{}, "docker.io/library/kratix:latest", []string{"render"}, nil, `is the engine's own`},
		{"the default adapter image on index.docker.io", Options{}, "index.docker.io/library/kratix", []string{"render"}, nil, `is the engine's own`},
		{"another tag of the adapter image", Options{}, "kratix:v2", []string{"render"}, nil, `is the engine's own`},
		{"the adapter image by digest", Options{}, "kratix@sha256:" + strings.Repeat("a", 64), []string{"render"}, nil, `is the engine's own`},
		{"a custom adapter image", custom, "ghcr.io/acme/kratix:v1.2", []string{"render"}, nil, `is the engine's own (ghcr.io/acme/kratix:v1.2)`},
		{"adapter subcommand in args", Options{}, "busybox", []string{"kratix"}, []string{"pipeline-adapter", "work-writer"}, "run `kratix pipeline-adapter`"},
		{"adapter by path in command", Options{}, "busybox", []string{"/usr/bin/kratix", "pipeline-adapter"}, []string{"work-writer"}, "run `kratix pipeline-adapter`"},
		{"adapter through env", Options{}, "busybox", []string{"env", "A=1", "kratix", "pipeline-adapter", "status-writer"}, nil, "run `kratix pipeline-adapter`"},
		{"a custom adapter command by base name", custom, "busybox", []string{"kratix", "pipeline-adapter", "reader"}, nil, "run `kratix pipeline-adapter`"},
		{"adapter in a shell script", Options{}, "busybox", []string{"sh", "-c"}, []string{"kratix pipeline-adapter work-writer --output-dir /kratix/output"}, `mention "pipeline-adapter"`},
		{"adapter in a shell command", Options{}, "busybox", []string{"sh", "-c", "cp $(which kratix) /tmp/k && /tmp/k pipeline-adapter reader"}, nil, `mention "pipeline-adapter"`},

		{"an image of its own", Options{}, "ghcr.io/acme/renderer:v1", []string{"render"}, nil, ""},
		{"another registry's kratix", Options{}, "ghcr.io/acme/kratix:latest", []string{"render"}, nil, ""},
		{"an image whose name starts with kratix", Options{}, "kratix-renderer:latest", []string{"render"}, nil, ""},
		{"kratix without the adapter", Options{}, "busybox", []string{"kratix"}, []string{"version"}, ""},
		{"pipeline-adapter to another program", Options{}, "busybox", []string{"mytool"}, []string{"pipeline-adapter"}, ""},
		{"pipeline-adapter before kratix", Options{}, "busybox", []string{"mytool", "pipeline-adapter", "kratix"}, nil, ""},
		{"a shell script of its own", Options{}, "busybox", []string{"sh", "-c"}, []string{"echo kratix > /kratix/output/x"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPromise(t)
			c := &p.Spec.Workflows.Resource.Configure[0].Spec.Containers[0]
			c.Image, c.Command, c.Args = tt.image, tt.command, tt.args
			w := resourceWorkflow(p, v1alpha1.WorkflowActionConfigure, testRequest("cache", "team-a"))
			_, jobErr := BuildJob(w, 0, 1, tt.opts)
			_, accessErr := BuildAccess(w, 0, tt.opts)
			for what, err := range map[string]error{"BuildJob": jobErr, "BuildAccess": accessErr} {
				switch {
				case tt.want == "" && err != nil:
					t.Errorf("%s: %v, want the container accepted", what, err)
				case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
					t.Errorf("%s error %v, want one containing %q", what, err, tt.want)
				case tt.want != "" && !strings.Contains(err.Error(), `container "`+c.Name+`"`):
					t.Errorf("%s error %v does not name the container %q", what, err, c.Name)
				}
			}
		})
	}
}
