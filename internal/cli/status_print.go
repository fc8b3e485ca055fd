package cli

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// printStatus writes the report on one screen: the request, its workflow's pipelines, its Jobs
// (with the end of a failed one's log), its Works, where they landed, and warnings. now makes
// ages; -o yaml and json write the report itself.
func printStatus(w io.Writer, output string, rep *statusReport, now time.Time) error {
	switch output {
	case outputJSON:
		return printJSON(w, rep)
	case outputYAML:
		return printYAML(w, rep)
	}
	var b strings.Builder
	name := rep.Name
	if rep.Namespace != "" {
		name = rep.Namespace + "/" + rep.Name
	}
	fmt.Fprintf(&b, "%s %s (promise %s)\n", cellText(rep.Kind), cellText(name), cellText(rep.Promise))
	fmt.Fprintf(&b, "Ready:    %s", cellText(rep.Ready))
	if rep.Reason != "" {
		fmt.Fprintf(&b, " (%s)", cellText(rep.Reason))
	}
	fmt.Fprintf(&b, "\nMessage:  %s\n", indentAfterFirst(blockText(orDash(rep.Message)), "          "))

	b.WriteString("\nWorkflow")
	if rep.Workflow == nil || len(rep.Workflow.Pipelines) == 0 {
		b.WriteString(": none recorded\n")
	} else {
		fmt.Fprintf(&b, " (%s):\n", cellText(rep.Workflow.Action))
		t := newTable(&b, "  PIPELINE", "PHASE", "RUN", "SINCE", "MESSAGE")
		for _, p := range rep.Workflow.Pipelines {
			since, run := "-", "-"
			if p.LastTransitionTime != nil {
				since = age(now.Sub(p.LastTransitionTime.Time))
			}
			if p.Run > 0 {
				run = fmt.Sprint(p.Run)
			}
			t.row("  "+p.Name, orDash(p.Phase), run, since, orDash(p.Message))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}

	b.WriteString("\nJobs")
	if len(rep.Jobs) == 0 {
		b.WriteString(": none\n")
	} else {
		b.WriteString(":\n")
		headers := []string{"  PIPELINE", "ACTION", "RUN", "JOB", "STARTED", "DURATION", "RESULT"}
		if output == outputWide {
			headers = append(headers, "NAMESPACE")
		}
		t := newTable(&b, headers...)
		for _, j := range rep.Jobs {
			started := "-"
			if j.Started != nil {
				started = age(now.Sub(*j.Started)) + " ago"
			}
			cells := []string{"  " + orDash(j.Pipeline), orDash(j.Action), orDash(j.Run), j.Name, started, orDash(j.Duration), j.Result}
			if output == outputWide {
				cells = append(cells, j.Namespace)
			}
			t.row(cells...)
		}
		if err := t.flush(); err != nil {
			return err
		}
		for _, j := range rep.Jobs {
			if j.Result != "Failed" {
				continue
			}
			fmt.Fprintf(&b, "\n  Job %s failed:\n", cellText(j.Name))
			b.WriteString(indent(blockText(orDash(j.Message)), "    | "))
			if j.LogTail != "" {
				b.WriteString("    log:\n")
				b.WriteString(indent(blockText(j.LogTail), "    | "))
			}
		}
	}

	b.WriteString("\nWorks")
	if len(rep.Works) == 0 {
		b.WriteString(": none\n")
	} else {
		b.WriteString(":\n")
		t := newTable(&b, "  WORK", "PIPELINE", "READY", "PLACEMENTS", "MESSAGE")
		for _, wk := range rep.Works {
			t.row("  "+wk.Namespace+"/"+wk.Name, orDash(wk.Pipeline), wk.Ready, fmt.Sprint(wk.Placements), orDash(wk.Message))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}

	b.WriteString("\nPlacements")
	if len(rep.Placements) == 0 {
		b.WriteString(": none\n")
	} else {
		b.WriteString(":\n")
		headers := []string{"  DESTINATION", "WORKPLACEMENT", "STATUS", "MISSCHEDULED", "VERSION"}
		if output == outputWide {
			headers = append(headers, "PATH", "MESSAGE")
		}
		t := newTable(&b, headers...)
		for _, p := range rep.Placements {
			cells := []string{"  " + p.Destination, p.Name, p.Status, boolCell(p.Misscheduled), orDash(short(p.Version))}
			if output == outputWide {
				cells = append(cells, orDash(p.Path), orDash(p.Message))
			}
			t.row(cells...)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}

	if len(rep.Warnings) > 0 {
		b.WriteString("\nWarnings:\n")
		for _, warning := range rep.Warnings {
			fmt.Fprintf(&b, "  ! %s\n", cellText(warning))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// indentAfterFirst prefixes every line of s but the first.
func indentAfterFirst(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return prefix + strings.Join(lines, "\n"+prefix) + "\n"
}
