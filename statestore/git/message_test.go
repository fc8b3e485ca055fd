package git

import (
	"testing"

	"kratix.dev/kratix/statestore"
)

func TestCommitMessage(t *testing.T) {
	hello := statestore.Origin{Action: statestore.ActionUpdate, Destination: "dev-cluster-1", Promise: "appconfig",
		ResourceNamespace: "default", Resource: "hello", Pipeline: "render", WorkPlacement: "appconfig-hello.dev-cluster-1"}
	foo := statestore.Origin{Action: statestore.ActionDelete, Destination: "dev-cluster-1", Promise: "promise-name",
		WorkPlacement: "promise-name.dev-cluster-1"}
	canary := statestore.Origin{Destination: "prod-cluster-1"}
	// Every name is flattened, wherever the message shows it: a pipeline name is free text, and
	// the others come from objects users write.
	forged := statestore.Origin{Action: statestore.ActionUpdate, Destination: "dev\n1", Promise: "app\rconfig",
		ResourceNamespace: "team\u2028a", Resource: "hello\x1b[2K", Pipeline: "render)\n\n- delete prod: x\n\nApproved-by: me\n\n(",
		WorkPlacement: "wp\n\nKratix-Action: delete"}

	cases := []struct {
		name    string
		origins []statestore.Origin
		want    string
	}{
		{"one resource placement", []statestore.Origin{hello}, `kratix: update dev-cluster-1: appconfig/default/hello (render)

- update dev-cluster-1: appconfig/default/hello (render) [appconfig-hello.dev-cluster-1]

Kratix-Action: update
Kratix-Destination: dev-cluster-1
Kratix-Promise: appconfig
Kratix-Resource: default/hello
Kratix-Pipeline: render
Kratix-WorkPlacement: appconfig-hello.dev-cluster-1
`},
		{"one static dependency deletion", []statestore.Origin{foo}, `kratix: delete dev-cluster-1: promise-name

- delete dev-cluster-1: promise-name [promise-name.dev-cluster-1]

Kratix-Action: delete
Kratix-Destination: dev-cluster-1
Kratix-Promise: promise-name
Kratix-WorkPlacement: promise-name.dev-cluster-1
`},
		{"a batch lists every placement and counts by action", []statestore.Origin{hello, foo, canary}, `kratix: update 2 and delete 1 workplacements

- update dev-cluster-1: appconfig/default/hello (render) [appconfig-hello.dev-cluster-1]
- delete dev-cluster-1: promise-name [promise-name.dev-cluster-1]
- update prod-cluster-1

Kratix-Action: update
Kratix-Destination: dev-cluster-1
Kratix-Promise: appconfig
Kratix-Resource: default/hello
Kratix-Pipeline: render
Kratix-WorkPlacement: appconfig-hello.dev-cluster-1
Kratix-Action: delete
Kratix-Destination: dev-cluster-1
Kratix-Promise: promise-name
Kratix-WorkPlacement: promise-name.dev-cluster-1
Kratix-Action: update
Kratix-Destination: prod-cluster-1
`},
		{"names stay on their line in the subject, the body and the trailers", []statestore.Origin{forged}, `kratix: update dev 1: app config/team a/hello [2K (render) - delete prod: x Approved-by: me ()

- update dev 1: app config/team a/hello [2K (render) - delete prod: x Approved-by: me () [wp Kratix-Action: delete]

Kratix-Action: update
Kratix-Destination: dev 1
Kratix-Promise: app config
Kratix-Resource: team a/hello [2K
Kratix-Pipeline: render) - delete prod: x Approved-by: me (
Kratix-WorkPlacement: wp Kratix-Action: delete
`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := commitMessage(tc.origins); got != tc.want {
				t.Errorf("message:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	cases := []struct{ in, want string }{
		{"render", "render"},
		{"", ""},
		{"a\nb", "a b"},
		{"a\r\nb", "a b"},
		{"\n\na  \t b\n", "a b"},
		{"a\x00b\x7fc", "a b c"},
		{"a\x1b[31mb", "a [31mb"},
		{"a\u0085b", "a b"},
		{"a\u2028b\u2029c", "a b c"},
		{"a\u202eb\u2066c", "a b c"},
		{"a\xffb", "a\ufffdb"},
		{"caf\u00e9 r\u00e9sum\u00e9", "caf\u00e9 r\u00e9sum\u00e9"},
	}
	for _, tc := range cases {
		if got := oneLine(tc.in); got != tc.want {
			t.Errorf("oneLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
