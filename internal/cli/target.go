package cli

import (
	"slices"
	"strings"
)

// Kinds of target on the command line.
const (
	targetRequest = "request"
	// targetPromise is a Promise alone: every request of it (status).
	targetPromise       = "promise"
	targetWorkPlacement = "workplacement"
	targetDestination   = "destination"
)

// target is what a command is about: <promise>/<request>, workplacement/<name>,
// destination/<name>, or a <promise> alone.
type target struct {
	kind string
	// promise is the request's Promise; empty for the other kinds.
	promise string
	name    string
}

func (t target) String() string {
	if t.kind == targetPromise {
		return t.promise
	}
	if t.kind == targetRequest {
		return t.promise + "/" + t.name
	}
	return t.kind + "/" + t.name
}

// parseTarget reads a target. kinds lists those the command accepts. The kind names may be
// written as kubectl accepts them: plural, or wp for a WorkPlacement.
func parseTarget(arg string, kinds ...string) (target, error) {
	first, name, ok := strings.Cut(arg, "/")
	if !ok && arg != "" && slices.Contains(kinds, targetPromise) {
		return target{kind: targetPromise, promise: arg}, nil
	}
	if !ok || first == "" || name == "" || strings.Contains(name, "/") {
		return target{}, usagef("%q is not <promise>/<request>, workplacement/<name> or destination/<name>", arg)
	}
	t := target{kind: targetRequest, promise: first, name: name}
	switch strings.ToLower(first) {
	case "workplacement", "workplacements", "wp":
		t = target{kind: targetWorkPlacement, name: name}
	case "destination", "destinations":
		t = target{kind: targetDestination, name: name}
	}
	for _, k := range kinds {
		if k == t.kind {
			return t, nil
		}
	}
	return target{}, usagef("%s: this command takes %s", arg, describeKinds(kinds))
}

func describeKinds(kinds []string) string {
	var parts []string
	for _, k := range kinds {
		switch k {
		case targetRequest:
			parts = append(parts, "<promise>/<request>")
		case targetPromise:
			parts = append(parts, "<promise>")
		default:
			parts = append(parts, k+"/<name>")
		}
	}
	return strings.Join(parts, " or ")
}
