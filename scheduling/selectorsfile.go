package scheduling

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// DestinationSelectorsFile is where a workflow's containers write their destination selectors.
const DestinationSelectorsFile = "/kratix/metadata/destination-selectors.yaml"

// DestinationSelector is one entry of destination-selectors.yaml (CONTRACT.md §4). An entry
// without a directory adds its labels to the selectors of the default (root) workload group; an
// entry with one makes that top-level directory of /kratix/output its own workload group,
// scheduled by this entry alone.
type DestinationSelector struct {
	// Directory is a top-level directory of /kratix/output, or empty for the root group.
	Directory string `json:"directory,omitempty"`
	// MatchLabels are the labels a Destination must carry; at least one.
	MatchLabels map[string]string `json:"matchLabels"`
}

// EntryError is what is wrong with one entry of destination-selectors.yaml.
type EntryError struct {
	// Index is the entry's position in the list, from 0.
	Index int
	// Directory is the entry's directory, if it has one.
	Directory string
	// Problem says what is wrong.
	Problem string
}

// Error names the entry, as entries[i] and its directory, and says what is wrong with it.
func (e *EntryError) Error() string {
	if e.Directory != "" {
		return fmt.Sprintf("entries[%d] (directory %q): %s", e.Index, e.Directory, e.Problem)
	}
	return fmt.Sprintf("entries[%d]: %s", e.Index, e.Problem)
}

// ParseDestinationSelectors reads the content of destination-selectors.yaml: a YAML list of
// {directory?, matchLabels} entries. Directories are normalised ("./db/" becomes "db"). An empty
// file is an empty list. When anything is wrong the error lists every problem, each one an
// *EntryError naming its entry (use errors.As), and no entries are returned; entries that are
// returned always pass ValidateDestinationSelectors.
func ParseDestinationSelectors(data []byte) ([]DestinationSelector, error) {
	doc, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("destination selectors are not valid YAML: %w", err)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, errors.New("destination selectors must be a list of entries, each {directory?, matchLabels}")
	}
	decoded := make([]indexedEntry, 0, len(raw))
	var errs []*EntryError
	for i, r := range raw {
		entry, problem := decodeEntry(r)
		if problem != "" {
			errs = append(errs, &EntryError{Index: i, Directory: entry.Directory, Problem: problem})
			continue
		}
		if clean, problem := cleanDirectory(entry.Directory); problem == "" {
			entry.Directory = clean
		}
		decoded = append(decoded, indexedEntry{index: i, DestinationSelector: entry})
	}
	// Validate what decoded, so that one report lists every problem of the file.
	if errs = append(errs, validateEntries(decoded)...); len(errs) > 0 {
		return nil, joinEntryErrors(errs)
	}
	entries := make([]DestinationSelector, len(decoded))
	for i, e := range decoded {
		entries[i] = e.DestinationSelector
	}
	return entries, nil
}

// decodeEntry decodes one entry from JSON, or says why it cannot. Unknown fields and label values
// that are not strings (YAML reads true, 1 or yes as other types) are problems, so that a typo or a
// missing quote is reported instead of silently changing where workloads go.
func decodeEntry(raw json.RawMessage) (DestinationSelector, string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return DestinationSelector{}, "must be a mapping with matchLabels and an optional directory"
	}
	var entry DestinationSelector
	for _, name := range sortedKeys(fields) {
		switch name {
		case "directory":
			var dir *string
			if err := json.Unmarshal(fields[name], &dir); err != nil {
				return entry, "directory must be a string"
			}
			if dir != nil {
				entry.Directory = *dir
			}
		case "matchLabels":
			labels, problem := decodeLabels(fields[name])
			if problem != "" {
				return entry, problem
			}
			entry.MatchLabels = labels
		default:
			return entry, fmt.Sprintf("unknown field %q (an entry has only directory and matchLabels)", name)
		}
	}
	return entry, ""
}

// decodeLabels decodes matchLabels, requiring every value to be a string.
func decodeLabels(raw json.RawMessage) (map[string]string, string) {
	var values map[string]json.RawMessage
	if err := json.Unmarshal(raw, &values); err != nil {
		return nil, "matchLabels must be a mapping of label keys to values"
	}
	labels := make(map[string]string, len(values))
	for _, k := range sortedKeys(values) {
		var v string
		if string(values[k]) == "null" {
			return nil, fmt.Sprintf("matchLabels[%q] has no value; write \"\" for an empty one", k)
		}
		if err := json.Unmarshal(values[k], &v); err != nil {
			return nil, fmt.Sprintf("matchLabels[%q] must be a string; quote the value (YAML reads unquoted true, yes, on or numbers as other types)", k)
		}
		labels[k] = v
	}
	return labels, ""
}

// ValidateDestinationSelectors checks entries as ParseDestinationSelectors returns them: every
// entry has at least one label, valid label keys and values; a directory is a clean, relative,
// top-level directory that no other entry names; entries without a directory do not give one
// label two values. The error lists every problem, each one an *EntryError.
func ValidateDestinationSelectors(entries []DestinationSelector) error {
	indexed := make([]indexedEntry, len(entries))
	for i, e := range entries {
		indexed[i] = indexedEntry{index: i, DestinationSelector: e}
	}
	return joinEntryErrors(validateEntries(indexed))
}

// indexedEntry is an entry with its position in the file.
type indexedEntry struct {
	index int
	DestinationSelector
}

// validateEntries returns every problem of entries (see ValidateDestinationSelectors).
func validateEntries(entries []indexedEntry) []*EntryError {
	var errs []*EntryError
	fail := func(e indexedEntry, format string, args ...any) {
		errs = append(errs, &EntryError{Index: e.index, Directory: e.Directory, Problem: fmt.Sprintf(format, args...)})
	}
	directories := map[string]int{}         // directory -> index of the entry that names it
	rootLabels := map[string]indexedEntry{} // label key -> first root entry that sets it
	for _, e := range entries {
		if len(e.MatchLabels) == 0 {
			fail(e, "matchLabels has no labels; every entry needs at least one")
		}
		for _, k := range sortedKeys(e.MatchLabels) {
			for _, problem := range labelProblems(k, e.MatchLabels[k]) {
				fail(e, "%s", problem)
			}
		}
		if e.Directory == "" {
			for _, k := range sortedKeys(e.MatchLabels) {
				first, seen := rootLabels[k]
				switch {
				case !seen:
					rootLabels[k] = e
				case first.MatchLabels[k] != e.MatchLabels[k]:
					fail(e, "label %q is %q here but %q in entries[%d]; no Destination can carry both", k, e.MatchLabels[k], first.MatchLabels[k], first.index)
				}
			}
			continue
		}
		clean, problem := cleanDirectory(e.Directory)
		switch {
		case problem != "":
			fail(e, "%s", problem)
		case clean != e.Directory:
			fail(e, "directory is not in canonical form; write %q", clean)
		default:
			if first, seen := directories[clean]; seen {
				fail(e, "directory already has its selector in entries[%d]; a directory can have only one", first)
			} else {
				directories[clean] = e.index
			}
		}
	}
	return errs
}

// joinEntryErrors joins errs in file order, or returns nil when there are none.
func joinEntryErrors(errs []*EntryError) error {
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Index < errs[j].Index })
	joined := make([]error, len(errs))
	for i, e := range errs {
		joined[i] = e
	}
	return errors.Join(joined...)
}

// labelProblems says what is wrong with one label key and value, if anything.
func labelProblems(key, value string) []string {
	var problems []string
	for _, msg := range validation.IsQualifiedName(key) {
		problems = append(problems, fmt.Sprintf("label key %q is invalid: %s", key, msg))
	}
	for _, msg := range validation.IsValidLabelValue(value) {
		problems = append(problems, fmt.Sprintf("label %q value %q is invalid: %s", key, value, msg))
	}
	return problems
}

// cleanDirectory returns the canonical form of a directory entry, or says why it is not a
// top-level directory of /kratix/output.
func cleanDirectory(dir string) (string, string) {
	switch {
	case strings.ContainsRune(dir, 0):
		return "", "directory contains a NUL byte"
	case path.IsAbs(dir):
		return "", "directory must be relative to /kratix/output, not absolute"
	}
	for _, element := range strings.Split(dir, "/") {
		if element == ".." {
			return "", "directory must not contain \"..\"; it would escape /kratix/output"
		}
	}
	clean := path.Clean(dir)
	switch {
	case clean == ".":
		return "", "directory names the output root; leave directory out to select for the default group"
	case strings.Contains(clean, "/"):
		return "", "directory is nested; only a top-level directory of /kratix/output can be its own workload group"
	}
	return clean, ""
}

// sortedKeys returns the keys of m in order, so that problems are reported deterministically.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
