package cli

import (
	"fmt"
	"io"
	"time"
)

// printHistory writes the commits: a table of one row per commit (wide: per change, with the
// Destination, pipeline, author and store), or the entries as YAML or JSON.
func printHistory(w io.Writer, output string, entries []historyEntry) error {
	switch output {
	case outputJSON:
		if entries == nil {
			entries = []historyEntry{}
		}
		return printJSON(w, map[string]any{"commits": entries})
	case outputYAML:
		if entries == nil {
			entries = []historyEntry{}
		}
		return printYAML(w, map[string]any{"commits": entries})
	}
	if len(entries) == 0 {
		_, err := fmt.Fprintln(w, "No commits.")
		return err
	}
	headers := []string{"COMMIT", "DATE", "ACTION", "PROMISE", "RESOURCE", "WORKPLACEMENT", "SUBJECT"}
	if output == outputWide {
		headers = []string{"COMMIT", "DATE", "ACTION", "DESTINATION", "PROMISE", "RESOURCE", "PIPELINE", "WORKPLACEMENT", "AUTHOR", "STORE", "SUBJECT"}
	}
	t := newTable(w, headers...)
	for _, e := range entries {
		date := e.Date.Format(time.RFC3339)
		changes := e.Changes
		if len(changes) == 0 {
			changes = []change{{Action: "-", Destination: "-", Promise: "-", Resource: "-", Pipeline: "-", WorkPlacement: "-"}}
		}
		if output != outputWide {
			c := changes[0]
			wp := dash(c.WorkPlacement)
			if len(changes) > 1 {
				wp += fmt.Sprintf(" (+%d more)", len(changes)-1)
			}
			t.row(short(e.Commit), date, c.Action, dash(c.Promise), dash(c.Resource), wp, e.Subject)
			continue
		}
		for _, c := range changes {
			t.row(short(e.Commit), date, c.Action, dash(c.Destination), dash(c.Promise), dash(c.Resource), dash(c.Pipeline), dash(c.WorkPlacement), e.Author, e.Store, e.Subject)
		}
	}
	return t.flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
