package statestore

import "testing"

// TestCleanPathRefusesEveryNTFSNameOfGitmodulesAndGitattributes (attack): Git's fsck
// (receive.fsckObjects, on at GitHub and GitLab) reads as .gitmodules or .gitattributes not only
// the first 8.3 short name ("GITMOD~1") but "GITMOD~1" to "GITMOD~4" and the hashed fallback
// short names NTFS generates ("GI7EBA~1", "GI7D29~1", "GI7EB~12": eight characters with a tilde and digits),
// and then checks their content. A pipeline that writes "GITMOD~2" with a submodule URL such as
// "--upload-pack=..." (or "GITATT~2" with a line over 2,048 bytes) has its push refused by such
// a server (verified with git 2.39 for each name below: gitmodulesUrl, gitattributesLineLength), so every batch it
// joins is refused and split in halves to find it, on every retry; on a server that does not
// check, the file lands, and git on Windows (core.protectNTFS) refuses to check out the state
// repository. CleanPath says it refuses names that Git servers read as .gitmodules or
// .gitattributes; it refuses the ~1 names only (statestore/paths.go, ntfsShortName).
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
