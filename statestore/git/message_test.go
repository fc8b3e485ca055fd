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
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := commitMessage(tc.origins); got != tc.want {
				t.Errorf("message:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}
