package gitserver

import "testing"

func TestSSHQuoteParseGitCommand(t *testing.T) {
	for _, tc := range []struct {
		line, service, repo string
		ok                  bool
	}{
		{line: "git-upload-pack '/state.git'", service: "git-upload-pack", repo: "state.git", ok: true},
		{line: "git-receive-pack 'org/state.git'", service: "git-receive-pack", repo: "org/state.git", ok: true},
		{line: `git-receive-pack '/it'\''s.git'`, service: "git-receive-pack", repo: "it's.git", ok: true},
		{line: `git-receive-pack '/wow'\!'.git'`, service: "git-receive-pack", repo: "wow!.git", ok: true},
		{line: `git-receive-pack '/a b.git'`, service: "git-receive-pack", repo: "a b.git", ok: true},
		{line: "git-upload-pack"},
		{line: "git-upload-pack "},
		{line: "git-upload-pack ''"},
		{line: "git-upload-pack '/'"},
		{line: "git-upload-pack /state.git"},
		{line: "git-upload-pack '/state.git"},
		{line: "git-upload-pack '/state.git' x"},
		{line: "git-upload-pack '/state.git''x'"},
		{line: `git-upload-pack '/state.git'\x'`},
		{line: `git-upload-pack '/state.git'\'`},
		{line: "git-upload-pack '/../state.git'"},
		{line: "git-upload-pack '/org/../state.git'"},
		{line: "git-upload-pack '/./state.git'"},
		{line: "git-upload-pack '//state.git'"},
		{line: "git-upload-pack '/state.git/'"},
		{line: "git-upload-pack '/a\\b.git'"},
		{line: "git-upload-pack '/a\x00b.git'"},
		{line: "git-upload-archive '/state.git'"},
		{line: "git upload-pack '/state.git'"},
		{line: "rm '/state.git'"},
	} {
		service, repo, err := parseGitCommand(tc.line)
		if tc.ok != (err == nil) || service != tc.service || repo != tc.repo {
			t.Errorf("parseGitCommand(%q) = %q, %q, %v; want %q, %q, ok %v", tc.line, service, repo, err, tc.service, tc.repo, tc.ok)
		}
	}
}
