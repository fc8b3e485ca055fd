package git

import (
	"fmt"
	"strings"

	"kratix.dev/kratix/statestore"
)

// commitMessage describes the changes of one commit (CONTRACT.md §8): a subject that says what
// happened, a body that lists every WorkPlacement, and machine-readable trailers, one set per
// change, for `git log --format=%(trailers)` and `git interpret-trailers`.
func commitMessage(origins []statestore.Origin) string {
	var b strings.Builder
	if len(origins) == 1 {
		b.WriteString("kratix: " + describe(origins[0]) + "\n")
	} else {
		b.WriteString("kratix: " + countActions(origins) + " workplacements\n")
	}
	b.WriteString("\n")
	for _, o := range origins {
		line := describe(o)
		if o.WorkPlacement != "" {
			line += " [" + o.WorkPlacement + "]"
		}
		b.WriteString("- " + line + "\n")
	}
	b.WriteString("\n")
	for _, o := range origins {
		trailer(&b, "Kratix-Action", string(actionOf(o)))
		trailer(&b, "Kratix-Destination", o.Destination)
		trailer(&b, "Kratix-Promise", o.Promise)
		if o.Resource != "" {
			trailer(&b, "Kratix-Resource", o.ResourceNamespace+"/"+o.Resource)
		}
		trailer(&b, "Kratix-Pipeline", o.Pipeline)
		trailer(&b, "Kratix-WorkPlacement", o.WorkPlacement)
	}
	return b.String()
}

// describe is one change in words: "update dev-1: appconfig/default/hello (render)".
func describe(o statestore.Origin) string {
	s := fmt.Sprintf("%s %s", actionOf(o), o.Destination)
	if o.Promise == "" {
		return s
	}
	s += ": " + o.Promise
	if o.Resource != "" {
		s += "/" + o.ResourceNamespace + "/" + o.Resource
	}
	if o.Pipeline != "" {
		s += " (" + o.Pipeline + ")"
	}
	return s
}

// countActions summarises a batch: "update 64" or "update 3 and delete 1".
func countActions(origins []statestore.Origin) string {
	counts := map[statestore.Action]int{}
	for _, o := range origins {
		counts[actionOf(o)]++
	}
	var parts []string
	for _, a := range []statestore.Action{statestore.ActionUpdate, statestore.ActionRestore, statestore.ActionDelete} {
		if counts[a] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", a, counts[a]))
		}
	}
	return strings.Join(parts, " and ")
}

func actionOf(o statestore.Origin) statestore.Action {
	if o.Action == "" {
		return statestore.ActionUpdate
	}
	return o.Action
}

// trailer writes one trailer line, skipping empty values; newlines in values are flattened so
// that a value cannot end the trailer block.
func trailer(b *strings.Builder, key, value string) {
	if value == "" {
		return
	}
	b.WriteString(key + ": " + strings.Join(strings.Fields(value), " ") + "\n")
}
