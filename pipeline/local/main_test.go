package local

import (
	"context"
	"os"
	"testing"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"kratix.dev/kratix/internal/testenv"
	"kratix.dev/kratix/pipeline/adapter"
)

var env *testenv.Env

// asAdapter makes this test binary act as `kratix pipeline-adapter` for the runner's tests.
const asAdapter = "KRATIX_TEST_RUN_AS_ADAPTER"

func TestMain(m *testing.M) {
	MaybeRunChild()       // the sandbox re-executes this test binary
	maybeRunLegacyChild() // and so does the baseline of BenchmarkContainerStart
	if os.Getenv(asAdapter) == "1" {
		// os.Args is [binary, "pipeline-adapter", step, flags...], as the runner starts it.
		if err := adapter.Main(context.Background(), os.Args[2:], os.Stderr); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	ctrl.SetLogger(logr.Discard()) // each test gives its runner a logger of its own
	os.Exit(testenv.Main(m, &env))
}
