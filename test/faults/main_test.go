// Package faults is the engine's fault suite: it puts many placements in flight against a real
// state store (a Git server, or an S3 server for one scenario) and breaks something under them:
// the store's server down, commits pushed by someone else, the branch or files deleted by hand,
// the manager killed with SIGKILL, a Destination deleted, the API server restarted. Then it
// measures whether any write was lost, how long the engine took to converge once the fault
// ended, and whether any placement's status claimed a version the store did not hold
// (audit_test.go). It is slow, so it is not part of `make test`; run it with
// `make test-faults`. FAULTS_N sets the number of placements (200 by default); with
// FAULTS_LOG_DIR set, a failed scenario writes its whole manager log there.
package faults

import (
	"io"
	"os"
	"testing"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"kratix.dev/kratix/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	// Nothing here logs through the global logger; setting it keeps controller-runtime from
	// warning that it was never set.
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	os.Exit(testenv.Main(m, &env))
}
