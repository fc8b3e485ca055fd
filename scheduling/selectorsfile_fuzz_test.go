package scheduling

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzParseDestinationSelectors feeds arbitrary bytes to the parser: it must never panic, an
// error must be an error with no entries, and accepted entries must validate, have labels, and
// parse back to themselves.
func FuzzParseDestinationSelectors(f *testing.F) {
	seeds := []string{
		"",
		"[]",
		"null",
		"- matchLabels:\n    environment: dev\n",
		"- directory: database\n  matchLabels:\n    storage: ssd\n- matchLabels: {zone: a}\n",
		"- directory: ./db/\n  matchLabels: {env: dev}\n",
		"- directory: ../escape\n  matchLabels: {env: dev}\n",
		"- directory: a/b\n  matchLabels: {env: dev}\n",
		"- directory: /abs\n  matchLabels: {env: dev}\n",
		"- directory: db\n  matchLabels: {a: b}\n- directory: db\n  matchLabels: {c: d}\n",
		"- matchLabels: {}\n",
		"- matchLabels: {gpu: true, count: 3, env: }\n",
		"- matchLabels: {\"example.com/tier\": \"1\"}\n",
		"- matchLabels: {env: dev}\n- matchLabels: {env: prod}\n",
		"- {directory: [x], matchLabels: [y]}\n",
		"{matchLabels: {env: dev}}",
		"- &a {matchLabels: {env: dev}}\n- *a\n",
		"- matchLabels: {env: dev}\n  extra: 1\n",
		"\x00\xff- [",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseDestinationSelectors(data)
		if err != nil {
			if entries != nil {
				t.Fatalf("entries %+v returned with error %v", entries, err)
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if err := ValidateDestinationSelectors(entries); err != nil {
			t.Fatalf("accepted entries do not validate: %v\ninput %q\nentries %+v", err, data, entries)
		}
		for i, e := range entries {
			if len(e.MatchLabels) == 0 {
				t.Fatalf("accepted entries[%d] without labels from %q", i, data)
			}
		}
		// JSON is YAML: the accepted entries, written out, must read back the same.
		out, err := json.Marshal(entries)
		if err != nil {
			t.Fatalf("marshal accepted entries: %v", err)
		}
		again, err := ParseDestinationSelectors(out)
		if err != nil {
			t.Fatalf("accepted entries written as %s do not parse again: %v", out, err)
		}
		if !reflect.DeepEqual(again, entries) {
			t.Fatalf("round trip changed the entries:\n got %+v\nwant %+v", again, entries)
		}
		if _, err := BuildWorkloadGroups(entries, nil, "resource"); err != nil {
			t.Fatalf("accepted entries cannot build workload groups: %v", err)
		}
	})
}
