package git

import (
	"strings"
	"testing"

	"kratix.dev/kratix/statestore"
)

// TestCommitMessageLinesComeFromTheEngine (attack): a Work's pipelineName (and resourceName,
// resourceNamespace) is free text in the CRD, and a pipeline's ServiceAccount may write its
// Work straight through the API. In filepath mode none (and aggregatedYAML) those names are in
// no path, so CleanPath never sees them, but they are in the commit message: the trailers
// flatten newlines (trailer), the subject and the body's "- ..." lines do not (describe). A
// pipeline named "render)\n\n- delete prod-cluster-1: billing/..." writes lines of its choosing into the body of the engine's commit, which `git log` readers
// and tools that read the body take for the engine's account of what happened. Every name
// should be flattened (or quoted) where the message shows it, as trailers already are.
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
