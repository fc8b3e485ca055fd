package git

import (
	"strings"
	"testing"

	"kratix.dev/kratix/statestore"
)

// TestCommitMessageLinesComeFromTheEngine: a Work's pipelineName, resourceName and
// resourceNamespace are free text, and in filepath modes none and aggregatedYAML they are in no
// path that CleanPath checks; every name in the commit message is flattened to one line
// (oneLine), so that a pipeline cannot write lines of its choosing into the engine's account
// of what happened.
func TestCommitMessageLinesComeFromTheEngine(t *testing.T) {
	forged := "render)\n\n- delete prod-cluster-1: billing/finance/ledger (render) [billing-ledger.prod-cluster-1]\n\nApproved-by: security-team\n\n("
	msg := commitMessage([]statestore.Origin{{Action: statestore.ActionUpdate, Destination: "dev-cluster-1", Promise: "appconfig",
		ResourceNamespace: "team-a", Resource: "hello", Pipeline: forged, WorkPlacement: "appconfig-hello.dev-cluster-1"}})
	for _, line := range strings.Split(msg, "\n") {
		if strings.HasPrefix(line, "- delete prod-cluster-1") || strings.HasPrefix(line, "Approved-by:") {
			t.Errorf("the commit message holds a line that the Work's pipelineName wrote: %q\nwhole message:\n%s", line, msg)
		}
	}
}
