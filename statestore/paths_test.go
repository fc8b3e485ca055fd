package statestore

import (
	"errors"
	"strings"
	"testing"
)

func TestCleanPath(t *testing.T) {
	cases := []struct {
		in, want string
		bad      bool
	}{
		{in: "dev/resources/default/app.yaml", want: "dev/resources/default/app.yaml"},
		{in: "dev/", want: "dev"},
		{in: ".kratix/wp.state", want: ".kratix/wp.state"},
		{in: "dir/..hidden/x", want: "dir/..hidden/x"},
		{in: "", bad: true},
		{in: "/etc/passwd", bad: true},
		{in: "../other", bad: true},
		{in: "dev/../../other", bad: true},
		{in: "dev/./x", bad: true},
		{in: "dev//x", bad: true},
		{in: `dev\x`, bad: true},
		{in: "dev/.git/config", bad: true},
		{in: ".GIT/hooks/pre-commit", bad: true},
		{in: "dev/x\x00y", bad: true},
		{in: "dev/x\ny", bad: true},
		// Names that Git servers with receive.fsckObjects refuse, or read as .git,
		// .gitmodules or .gitattributes on NTFS or HFS+.
		{in: "dev/.git /config", bad: true},
		{in: "dev/.git./config", bad: true},
		{in: "dev/.Git . ./config", bad: true},
		{in: "dev/GIT~1/config", bad: true},
		{in: "dev/git~1", bad: true},
		{in: "dev/.git::$INDEX_ALLOCATION/config", bad: true},
		{in: "dev/.g\u200cit/config", bad: true},
		{in: "dev/\ufeff.git/config", bad: true},
		{in: "dev/.gitmodules", bad: true},
		{in: "dev/.GITMODULES.", bad: true},
		{in: "dev/gitmod~1", bad: true},
		{in: "dev/.gitattributes", bad: true},
		{in: "dev/gitatt~1", bad: true},
		// Git's fsck reads as .gitmodules or .gitattributes the short names ~1 to ~4 and the
		// hashed short names NTFS falls back to: up to six characters of gi7eba (gi7d29), a
		// tilde, a digit from 1 to 9 and digits, eight characters in all (is_ntfs_dot_generic).
		{in: "dev/gitmod~2", bad: true},
		{in: "dev/GITMOD~4/x.yaml", bad: true},
		{in: "dev/gitmod~3 . ", bad: true},
		{in: "dev/gitmod~2:stream", bad: true},
		{in: "dev/GITATT~4", bad: true},
		{in: "dev/gi7eba~1", bad: true},
		{in: "dev/GI7EBA~9.", bad: true},
		{in: "dev/gi7eb~10", bad: true},
		{in: "dev/gi7e~123", bad: true},
		{in: "dev/gi7~1234", bad: true},
		{in: "dev/gi~12345", bad: true},
		{in: "dev/g~123456", bad: true},
		{in: "dev/~1234567", bad: true},
		{in: "dev/gi7d29~1", bad: true},
		{in: "dev/Gi7D2~99", bad: true},
		{in: "dev/gi7eba~1/x.yaml", bad: true},
		// Near misses stay valid.
		{in: "dev/gitmod~5", want: "dev/gitmod~5"},
		{in: "dev/gitmod~0", want: "dev/gitmod~0"},
		{in: "dev/gitmod~10", want: "dev/gitmod~10"},
		{in: "dev/gitmod~1.yaml", want: "dev/gitmod~1.yaml"},
		{in: "dev/gitmo~1", want: "dev/gitmo~1"},
		{in: "dev/gi7eba~0", want: "dev/gi7eba~0"},
		{in: "dev/gi7eba~10", want: "dev/gi7eba~10"},
		{in: "dev/gi7eba~1x", want: "dev/gi7eba~1x"},
		{in: "dev/gi7eb~1", want: "dev/gi7eb~1"},
		{in: "dev/gi7eb~1a", want: "dev/gi7eb~1a"},
		{in: "dev/gi7ebb~1", want: "dev/gi7ebb~1"},
		{in: "dev/gi7e~0123", want: "dev/gi7e~0123"},
		{in: "dev/~123456", want: "dev/~123456"},
		{in: "dev/gitign~1", want: "dev/gitign~1"},
		{in: "dev/gi250a~1", want: "dev/gi250a~1"},
		{in: "dev/.gitignore", want: "dev/.gitignore"},
		{in: "dev/.github/workflows/ci.yaml", want: "dev/.github/workflows/ci.yaml"},
		{in: "dev/git~2/x.yaml", want: "dev/git~2/x.yaml"},
		{in: "dev/my.git/x.yaml", want: "dev/my.git/x.yaml"},
		{in: "dev/x.yaml ", want: "dev/x.yaml "},
	}
	for _, tc := range cases {
		got, err := CleanPath(tc.in)
		switch {
		case tc.bad && err == nil:
			t.Errorf("CleanPath(%q) = %q, want a refusal", tc.in, got)
		case tc.bad && !errors.Is(err, ErrInvalidPath):
			t.Errorf("CleanPath(%q) error %v does not match ErrInvalidPath", tc.in, err)
		case !tc.bad && err != nil:
			t.Errorf("CleanPath(%q): %v", tc.in, err)
		case !tc.bad && got != tc.want:
			t.Errorf("CleanPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestChangeValidate(t *testing.T) {
	cases := []struct {
		name   string
		change Change
		errSub string
	}{
		{"files inside the directory", Change{Dir: "dev/resources/x", Files: []File{{Path: "dev/resources/x/a.yaml"}, {Path: "dev/resources/x/sub/b.yaml"}}}, ""},
		{"a file outside the directory", Change{Dir: "dev/resources/x", Files: []File{{Path: "dev/resources/xy/a.yaml"}}}, "outside the directory"},
		{"a file that escapes", Change{Files: []File{{Path: "dev/../../a.yaml"}}}, "escapes its root"},
		{"an absolute directory", Change{Dir: "/dev"}, "is absolute"},
		{"a removal that escapes", Change{Remove: []string{"../x"}}, "escapes its root"},
		{"a file written twice", Change{Files: []File{{Path: "a/b"}, {Path: "a/b/"}}}, "written twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.change.Validate()
			if tc.errSub == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalidPath) || !strings.Contains(err.Error(), tc.errSub) {
				t.Fatalf("Validate() = %v, want an invalid-path error saying %q", err, tc.errSub)
			}
		})
	}
}

// A Destination's path may end in a slash; the joined path is the same.
func TestJoinTrailingSlash(t *testing.T) {
	for _, dest := range []string{"dev", "dev/", "dev//"} {
		if got, err := Join(dest, "resources", "ns"); err != nil || got != "dev/resources/ns" {
			t.Errorf("Join(%q, ...) = %q, %v", dest, got, err)
		}
	}
	if got, err := Join("dev", "/etc"); err == nil {
		t.Errorf("Join with an absolute element = %q, want an error", got)
	}
}
