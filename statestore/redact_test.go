package statestore

import (
	"errors"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://git.example.com/org/repo.git":               "https://git.example.com/org/repo.git",
		"https://TOKEN@github.com/org/repo.git":              "https://github.com/org/repo.git",
		"https://user:secret@git.example.com/x.git":          "https://git.example.com/x.git",
		"http://:secret@127.0.0.1:8080/x.git":                "http://127.0.0.1:8080/x.git",
		"https://us@r:p@ss@git.example.com/x.git":            "https://git.example.com/x.git",
		"ssh://git@git.example.com:2222/org/repo.git":        "ssh://git.example.com:2222/org/repo.git",
		"ssh://git:secret@git.example.com/org/repo.git":      "ssh://git.example.com/org/repo.git",
		"file:///srv/git/state.git":                          "file:///srv/git/state.git",
		"git@github.com:org/repo.git":                        "github.com:org/repo.git",
		"user:secret@github.com:org/repo.git":                "github.com:org/repo.git",
		"user:p@ss@github.com:org/repo.git":                  "github.com:org/repo.git",
		"git@github.com:org/repo@v1.git":                     "github.com:org/repo@v1.git",
		"github.com:org/repo.git":                            "github.com:org/repo.git",
		"/srv/git/state.git":                                 "/srv/git/state.git",
		"s3.example.com:9000":                                "s3.example.com:9000",
		"key:secret@s3.example.com:9000":                     "s3.example.com:9000",
		"https://user:p%zzword@git.example.com/x.git":        UnparseableURL,
		"https://user:secret@git.example.com:port/x.git":     UnparseableURL,
		"secret@nowhere":                                     UnparseableURL,
		"https://git.example.com/x.git?private_token=SECRET": "https://git.example.com/x.git",
		"https://git.example.com/x.git#SECRET":               "https://git.example.com/x.git",
		"git@github.com:org/repo.git?token=SECRET":           "github.com:org/repo.git",
		"": "",
	} {
		if got := RedactURL(raw); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestRedactURLsIn(t *testing.T) {
	for text, want := range map[string]string{
		`Get "https://TOKEN@github.com/org/repo.git/info/refs?service=git-upload-pack": EOF`: `Get "https://github.com/org/repo.git/info/refs?service=git-upload-pack": EOF`,
		`push to http://u:p@ss@127.0.0.1:1/x.git and ssh://git@h/y`:                          `push to http://127.0.0.1:1/x.git and ssh://h/y`,
		`clone https://git.example.com/x.git: not found; mail admin@example.com`:             `clone https://git.example.com/x.git: not found; mail admin@example.com`,
	} {
		if got := RedactURLsIn(text); got != want {
			t.Errorf("RedactURLsIn(%q) = %q, want %q", text, got, want)
		}
	}
}

// An Error's text holds no URL userinfo, whatever its cause quotes; errors.Is still sees the
// cause.
func TestErrorHidesURLUserinfo(t *testing.T) {
	cause := errors.New(`Post "http://ghp_T0ken@127.0.0.1:1/state.git/git-receive-pack": connection refused`)
	err := NewError(ErrTransient, "push to http://127.0.0.1:1/state.git", cause)
	if strings.Contains(err.Error(), "ghp_T0ken") {
		t.Errorf("the token survived: %q", err.Error())
	}
	if !strings.Contains(err.Error(), "http://127.0.0.1:1/state.git/git-receive-pack") {
		t.Errorf("the URL is gone too: %q", err.Error())
	}
	if !errors.Is(err, cause) || !errors.Is(err, ErrTransient) {
		t.Errorf("the error lost its cause or kind: %v", err)
	}
}
