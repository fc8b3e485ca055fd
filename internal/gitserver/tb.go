package gitserver

// TB is what the constructors for tests (NewHTTP, NewSSH, NewGitHubApp) use of a test; *testing.T
// and *testing.B have it. The package does not import testing: `kratix local --gitops` serves its
// state repository with StartHTTP, and the kratix binary should not link the test framework.
type TB interface {
	Helper()
	Cleanup(func())
	Log(args ...any)
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}
