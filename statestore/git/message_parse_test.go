package git

import (
	"reflect"
	"testing"

	"kratix.dev/kratix/statestore"
)

func TestParseOriginsReadsBackCommitMessage(t *testing.T) {
	cases := map[string][]statestore.Origin{
		"one change": {{Action: statestore.ActionDelete, Destination: "dev-1", Promise: "redis", WorkPlacement: "redis-static-deps.dev-1"}},
		"a batch": {
			{Action: statestore.ActionUpdate, Destination: "dev-1", Promise: "app", ResourceNamespace: "default", Resource: "hello", Pipeline: "render", WorkPlacement: "app-hello-render.dev-1"},
			{Action: statestore.ActionRestore, Destination: "prod-1"},
			{Action: statestore.ActionUpdate, Destination: "dev-1", Promise: "app", Resource: "cluster-wide", Pipeline: "render"},
		},
	}
	for name, origins := range cases {
		t.Run(name, func(t *testing.T) {
			got := ParseOrigins(commitMessage(origins))
			if !reflect.DeepEqual(got, origins) {
				t.Errorf("ParseOrigins(commitMessage(x))\n got %+v\nwant %+v", got, origins)
			}
		})
	}
	if got := ParseOrigins("fix a typo by hand\n\nKratix-Promise: not after an action\n"); got != nil {
		t.Errorf("a message without Kratix-Action: got %+v, want none", got)
	}
}
