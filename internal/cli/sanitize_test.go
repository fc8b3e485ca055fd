package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func TestEscapingControls(t *testing.T) {
	for _, c := range []struct {
		name, in             string
		cell, block, content string
	}{
		{name: "plain text stays", in: "kratix: update dev: promise (render)", cell: "kratix: update dev: promise (render)",
			block: "kratix: update dev: promise (render)", content: "kratix: update dev: promise (render)"},
		{name: "an escape sequence", in: "ok\x1b[2K\x1b[1Aforged", cell: `ok\x1b[2K\x1b[1Aforged`,
			block: `ok\x1b[2K\x1b[1Aforged`, content: `ok\x1b[2K\x1b[1Aforged`},
		{name: "lines and tabs", in: "a\tb\nc", cell: `a\tb\nc`, block: "a\tb\nc", content: "a\tb\nc"},
		{name: "a lone carriage return", in: "secret: x\rsecret: y\r\n", cell: `secret: x\rsecret: y\r\n`,
			block: `secret: x\rsecret: y\r` + "\n", content: `secret: x\rsecret: y` + "\r\n"},
		{name: "a C1 control and DEL", in: "a\u009b2Jb\x7f", cell: `a\u009b2Jb\x7f`, block: `a\u009b2Jb\x7f`, content: `a\u009b2Jb\x7f`},
		{name: "a bidirectional override", in: "name: \u202eeulav", cell: `name: \u202eeulav`, block: `name: \u202eeulav`, content: `name: \u202eeulav`},
		{name: "invalid UTF-8", in: "a\xffb", cell: `a\xffb`, block: `a\xffb`, content: `a\xffb`},
		{name: "other Unicode stays", in: "grüße 🚀", cell: "grüße 🚀", block: "grüße 🚀", content: "grüße 🚀"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := cellText(c.in); got != c.cell {
				t.Errorf("cellText = %q, want %q", got, c.cell)
			}
			if got := blockText(c.in); got != c.block {
				t.Errorf("blockText = %q, want %q", got, c.block)
			}
			if got := contentText(c.in); got != c.content {
				t.Errorf("contentText = %q, want %q", got, c.content)
			}
		})
	}
}

// TestPrintersLeaveTheTerminalAlone: what a pipeline author or a pusher to the store controls (a
// file, a Job's log and message, a status message, a commit subject) reaches the reader's terminal
// with no control character it would act on, in every output but JSON (which escapes them itself;
// YAML does too, and quotes the bidirectional controls).
func TestPrintersLeaveTheTerminalAlone(t *testing.T) {
	const evil = "done\x1b]0;pwned\x07\x1b[1A\x1b[2K\rall good\u202e"
	now := time.Now()
	rep := &statusReport{
		Promise: "appconfig", Kind: "AppConfig", Namespace: "default", Name: "hello", Ready: "False", Reason: "PipelineFailed",
		Message:    "pipeline failed: " + evil,
		Jobs:       []jobReport{{Namespace: "default", Name: "kratix-hello-render", Pipeline: "render", Action: "configure", Result: "Failed", Message: evil, LogTail: "line 1\n" + evil + "\n"}},
		Works:      []workReport{{Namespace: "default", Name: "w", Pipeline: "render", Ready: "False", Message: evil}},
		Placements: []placementReport{{Name: "wp", Destination: "dev", Status: "WriteFailed", Message: evil, Path: "dev/x"}},
		Warnings:   []string{evil},
	}
	history := []historyEntry{{Commit: "0123456789abcdef", Date: now, Author: "mallory" + evil, Subject: evil, Store: "GitStateStore/default",
		Changes: []change{{Action: "update", Promise: "appconfig", Resource: "default/hello", WorkPlacement: "wp"}}}}
	files := []fileRecord{{Destination: "dev", Path: "dev/x.yaml" + evil, WorkPlacement: "wp", Namespace: "default", State: "Written", Content: "kind: ConfigMap\n# " + evil + "\n"}}

	outputs := map[string]func(*bytes.Buffer) error{}
	for _, o := range []string{"", outputWide, outputYAML} {
		outputs["status "+o] = func(b *bytes.Buffer) error { return printStatus(b, o, rep, now) }
		outputs["history "+o] = func(b *bytes.Buffer) error { return printHistory(b, o, history) }
	}
	outputs["files"] = func(b *bytes.Buffer) error { return printFiles(b, "", files) }
	outputs["files -o yaml"] = func(b *bytes.Buffer) error { return printFileContents(b, files) }
	for name, print := range outputs {
		var b bytes.Buffer
		if err := print(&b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := b.String()
		structured := strings.HasSuffix(name, outputYAML)
		for i, r := range out {
			if structured && r >= 0xa0 {
				// YAML shows other characters as they are, inside its quotes.
				continue
			}
			if r != '\n' && r != '\t' && unsafeRune(r) {
				t.Errorf("%s prints %q at byte %d: %q", name, r, i, out)
				break
			}
		}
		if !strings.Contains(out, "done") {
			t.Errorf("%s lost the text around the controls: %q", name, out)
		}
	}
}

// TestStructuredOutputIsSafe: -o json and -o yaml carry strings that pipelines and pushers write
// (a status message, a commit subject). A C1 control (U+009B is a terminal's CSI) or a
// bidirectional override reaches neither the terminal raw in JSON, and YAML does not fail on them:
// the YAML library refuses C1 controls in its input, which made `-o yaml` print nothing at all.
func TestStructuredOutputIsSafe(t *testing.T) {
	v := map[string]any{"message": "a\x1b[2Jb\u009b31mc\u202ed\u2066e\u0085f", "n": 1}
	var js bytes.Buffer
	if err := printJSON(&js, v); err != nil {
		t.Fatalf("printJSON: %v", err)
	}
	if strings.ContainsAny(js.String(), "\x1b\u009b\u202e\u2066") || strings.ContainsRune(js.String(), 0x85) {
		t.Errorf("JSON holds control characters raw: %q", js.String())
	}
	var back map[string]any
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back["message"] != v["message"] {
		t.Errorf("JSON does not decode to the same message: %v, %q", err, back["message"])
	}
	var y bytes.Buffer
	if err := printYAML(&y, v); err != nil {
		t.Fatalf("printYAML: %v", err)
	}
	if strings.ContainsAny(y.String(), "\x1b\u009b") || strings.ContainsRune(y.String(), 0x85) {
		t.Errorf("YAML holds control characters raw: %q", y.String())
	}
	back = nil
	if err := yaml.Unmarshal(y.Bytes(), &back); err != nil || back["message"] != v["message"] {
		t.Errorf("YAML does not decode to the same message: %v, %q", err, back["message"])
	}
}
