package scheduling

import (
	"crypto/md5" //nolint:gosec // the contract's id
	"encoding/hex"
	"testing"
)

func TestGroupIDIsHexMD5OfDirectory(t *testing.T) {
	md5Hex := func(s string) string {
		sum := md5.Sum([]byte(s)) //nolint:gosec // the contract's id
		return hex.EncodeToString(sum[:])
	}
	tests := []struct {
		name      string
		directory string
		want      string
	}{
		{name: "root", directory: ".", want: md5Hex(".")},
		{name: "empty directory is the root", directory: "", want: md5Hex(".")},
		{name: "top-level directory", directory: "database", want: md5Hex("database")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := GroupID(tt.directory); got != tt.want {
				t.Errorf("GroupID(%q) = %s, want %s", tt.directory, got, tt.want)
			}
		})
	}
}

func TestRootGroupIDIsTheIDOfTheRootDirectory(t *testing.T) {
	if got := GroupID("."); got != RootGroupID {
		t.Fatalf("GroupID(\".\") = %s, RootGroupID = %s", got, RootGroupID)
	}
	if !IsRootGroup(RootGroupID) || IsRootGroup(GroupID("db")) {
		t.Fatal("IsRootGroup must hold for the root group id only")
	}
}
