package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// printFiles writes the files: a table (wide: more columns), a YAML stream of their contents,
// each after a comment that says where it is, or JSON.
func printFiles(w io.Writer, output string, records []fileRecord) error {
	switch output {
	case outputJSON:
		if records == nil {
			records = []fileRecord{}
		}
		return printJSON(w, map[string]any{"files": records})
	case outputYAML:
		return printFileContents(w, records)
	}
	if len(records) == 0 {
		_, err := fmt.Fprintln(w, "No files.")
		return err
	}
	headers := []string{"DESTINATION", "PATH", "SIZE", "COMMIT", "STATE", "WORKPLACEMENT"}
	if output == outputWide {
		headers = append(headers, "NAMESPACE", "MISSCHEDULED", "COMMITTED", "SHA256", "STORE")
	}
	t := newTable(w, headers...)
	for _, r := range records {
		commit := short(r.Commit)
		if r.Version != "" {
			commit = "version " + short(r.Version)
		}
		if commit == "" {
			commit = "-"
		}
		wp := r.WorkPlacement
		switch {
		case wp == "":
			wp = "(canary)"
		case r.Misscheduled && output != outputWide:
			wp += " (misscheduled)"
		}
		cells := []string{r.Destination, r.Path, strconv.Itoa(r.Size), commit, r.State, wp}
		if output == outputWide {
			committed := "-"
			if r.CommitTime != nil {
				committed = r.CommitTime.Format(time.RFC3339)
			}
			ns := r.Namespace
			if ns == "" {
				ns = "-"
			}
			cells = append(cells, ns, boolCell(r.Misscheduled), committed, r.SHA256[:12], r.Store)
		}
		t.row(cells...)
	}
	return t.flush()
}

// printFileContents writes each file's content as a document of a YAML stream, after comments
// naming its Destination, path, WorkPlacement and commit.
func printFileContents(w io.Writer, records []fileRecord) error {
	for _, r := range records {
		var b strings.Builder
		b.WriteString("---\n")
		fmt.Fprintf(&b, "# destination: %s\n# path: %s\n", cellText(r.Destination), cellText(r.Path))
		if r.WorkPlacement != "" {
			fmt.Fprintf(&b, "# workplacement: %s/%s\n", cellText(r.Namespace), cellText(r.WorkPlacement))
		}
		if r.Commit != "" {
			fmt.Fprintf(&b, "# commit: %s\n", cellText(r.Commit))
		}
		fmt.Fprintf(&b, "# state: %s\n", cellText(r.State))
		content := strings.TrimPrefix(r.Content, "---\n")
		if safe := contentText(content); safe != content {
			b.WriteString("# control characters in the content are shown escaped\n")
			content = safe
		}
		b.WriteString(content)
		if content != "" && !strings.HasSuffix(content, "\n") {
			b.WriteString("\n")
		}
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
	}
	return nil
}
