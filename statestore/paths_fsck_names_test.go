package statestore

import "testing"

// TestCleanPathRefusesEveryNTFSNameOfGitmodulesAndGitattributes: Git's fsck (receive.fsckObjects,
// on at GitHub and GitLab) reads as .gitmodules or .gitattributes not only the first 8.3 short
// name ("GITMOD~1") but "GITMOD~1" to "GITMOD~4" and the hashed short names NTFS generates
// ("GI7EBA~1", "GI7D29~1", "GI7EB~12"), and checks their content: a pipeline that writes one
// with bad content would have every batch it joins refused by such a server. CleanPath refuses
// them all (ntfsShortNameOf, after git's is_ntfs_dot_generic).
func TestCleanPathRefusesEveryNTFSNameOfGitmodulesAndGitattributes(t *testing.T) {
	for _, p := range []string{
		"dev/GITMOD~2",
		"dev/gitmod~4",
		"dev/GI7EBA~1",
		"dev/gi7eb~12",
		"dev/GITATT~3",
		"dev/gi7d29~1",
		"dev/GITMOD~2 .",
	} {
		if got, err := CleanPath(p); err == nil {
			t.Errorf("CleanPath(%q) = %q; Git's fsck reads the name as .gitmodules or .gitattributes (is_ntfs_dotgitmodules, is_ntfs_dotgitattributes) and refuses bad content in it", p, got)
		}
	}
}
