package git

import (
	"fmt"
	"strings"
	"unicode"

	"kratix.dev/kratix/statestore"
)

// commitMessage describes the changes of one commit (CONTRACT.md §8): a subject that says what
// happened, a body that lists every WorkPlacement, and machine-readable trailers, one set per
// change, for `git log --format=%(trailers)` and `git interpret-trailers`. Every name in it is
// flattened to one line first (oneLineOrigin), so that the lines of the message are the engine's.
func commitMessage(origins []statestore.Origin) string {
	flat := make([]statestore.Origin, len(origins))
	for i, o := range origins {
		flat[i] = oneLineOrigin(o)
	}
	origins = flat
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

// trailer writes one trailer line, skipping empty values. The value is one line already
// (oneLineOrigin).
func trailer(b *strings.Builder, key, value string) {
	if value == "" {
		return
	}
	b.WriteString(key + ": " + value + "\n")
}

// oneLineOrigin returns the origin with every name in it flattened to one line (oneLine). The
// names come from objects that users and pipelines write, and a Work's pipelineName is free text:
// unflattened, a name could end the subject, add "- ..." lines to the body or end the trailer
// block, and readers of `git log` and tools that parse the message would take its lines for the
// engine's account of what happened.
func oneLineOrigin(o statestore.Origin) statestore.Origin {
	return statestore.Origin{
		Action:            statestore.Action(oneLine(string(o.Action))),
		Destination:       oneLine(o.Destination),
		Promise:           oneLine(o.Promise),
		ResourceNamespace: oneLine(o.ResourceNamespace),
		Resource:          oneLine(o.Resource),
		Pipeline:          oneLine(o.Pipeline),
		WorkPlacement:     oneLine(o.WorkPlacement),
	}
}

// oneLine flattens a name to one line for a commit message: control characters (newlines,
// carriage returns, escapes), Unicode line and paragraph separators and bidirectional formatting
// characters (which make a line show other than what it holds) become spaces, runs of white space
// become one space, and leading and trailing white space goes. Invalid UTF-8 becomes U+FFFD.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp, unicode.Bidi_Control) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// ParseOrigins reads back the changes that commitMessage described in a message's trailers: one
// origin per Kratix-Action trailer, with the Kratix-* trailers that follow it. A message without
// them (a commit by someone else) has none.
func ParseOrigins(message string) []statestore.Origin {
	var out []statestore.Origin
	for _, line := range strings.Split(message, "\n") {
		key, value, ok := strings.Cut(line, ": ")
		if !ok || !strings.HasPrefix(key, "Kratix-") {
			continue
		}
		if key == "Kratix-Action" {
			out = append(out, statestore.Origin{Action: statestore.Action(value)})
			continue
		}
		if len(out) == 0 {
			continue // a trailer before any action is not one of the engine's
		}
		o := &out[len(out)-1]
		switch key {
		case "Kratix-Destination":
			o.Destination = value
		case "Kratix-Promise":
			o.Promise = value
		case "Kratix-Resource":
			o.ResourceNamespace, o.Resource, _ = strings.Cut(value, "/")
		case "Kratix-Pipeline":
			o.Pipeline = value
		case "Kratix-WorkPlacement":
			o.WorkPlacement = value
		}
	}
	return out
}
