package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/yaml"
)

// table writes columns as kubectl does: upper-case headers, three spaces between columns.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, headers ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)}
	t.row(headers...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			c = "<none>"
		}
		cells[i] = cellText(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// printJSON writes v as indented JSON, as kubectl -o json does, with every character that
// unsafeRune names escaped (encoding/json leaves C1 controls and bidirectional controls raw).
func printJSON(w io.Writer, v any) error {
	data, err := safeJSON(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}

// printYAML writes v as YAML. The YAML library reads the JSON of v and refuses C1 controls in
// it raw, so it gets them escaped, and writes them escaped in turn. Bidirectional controls are
// printable to YAML and stay raw; -o json escapes them.
func printYAML(w io.Writer, v any) error {
	js, err := safeJSON(v)
	if err != nil {
		return err
	}
	data, err := yaml.JSONToYAML(js)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// safeJSON is v's indented JSON with every unsafe rune as a \u escape. JSON's own syntax is
// ASCII, so such a rune is inside a string, where the escape stands for it.
func safeJSON(v any) ([]byte, error) {
	data, err := json.MarshalIndent(v, "", "    ")
	if err != nil || !bytes.ContainsFunc(data, func(r rune) bool { return r >= 0x80 && unsafeRune(r) }) {
		return data, err
	}
	var b bytes.Buffer
	for _, r := range string(data) {
		if r >= 0x80 && unsafeRune(r) {
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.Bytes(), nil
}

// short is a commit hash as git log --oneline shows it.
func short(hash string) string {
	if len(hash) > 7 {
		return hash[:7]
	}
	return hash
}

// age is a duration as kubectl shows ages: 5s, 3m, 2h, 4d.
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func boolCell(b bool) string {
	if b {
		return "true"
	}
	return "-"
}
