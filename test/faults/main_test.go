// Package faults is the engine's fault suite: it puts many placements in flight against a real
// Git server and breaks the server or the repository under them (the server down, the branch
// deleted, files deleted by hand), then measures whether any write was lost, how long the engine
// took to converge once the fault ended, and whether any placement's status claimed a version the
// branch did not hold. It is slow, so it is not part of `make test`; run it with
// `make test-faults`. FAULTS_N sets the number of placements (200 by default).
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
