package schema

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestHoverTextsMatchTheFormatDoc keeps the editor's hover texts (the JSON
// Schema's descriptions) and docs/workflow-format.md saying the same thing:
// every key of the top-level and step tables must be a property of the
// schema, every property must have a row, and the row's text (Markdown
// removed) must be the property's description. A change to one that is not
// made to the other fails here.
func TestHoverTextsMatchTheFormatDoc(t *testing.T) {
	doc, err := os.ReadFile("../docs/workflow-format.md")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties map[string]struct{ Description string } `json:"properties"`
		Defs       struct {
			Step struct {
				Properties map[string]struct{ Description string } `json:"properties"`
			} `json:"step"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(baseSchemaJSON, &s); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		table string // the header line of the table in the doc
		props map[string]struct{ Description string }
	}{
		{"| key | type | |", s.Properties},
		{"| key (step) | |", s.Defs.Step.Properties},
	} {
		rows := tableRows(t, string(doc), tc.table)
		for key, text := range rows {
			p, ok := tc.props[key]
			if !ok {
				t.Errorf("docs/workflow-format.md documents %q, which the schema does not have", key)
				continue
			}
			if got, want := p.Description, plainText(text); got != want {
				t.Errorf("%q: the hover text and docs/workflow-format.md differ:\n  schema: %s\n  doc:    %s", key, got, want)
			}
		}
		var missing []string
		for key := range tc.props {
			if _, ok := rows[key]; !ok {
				missing = append(missing, key)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("docs/workflow-format.md table %q lacks %v", tc.table, missing)
		}
	}
}

// tableRows reads the Markdown table under header: key (first cell, in
// backticks) → its last cell.
func tableRows(t *testing.T, doc, header string) map[string]string {
	t.Helper()
	i := strings.Index(doc, header+"\n")
	if i < 0 {
		t.Fatalf("docs/workflow-format.md has no table %q", header)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(doc[i:], "\n")[2:] {
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		key := strings.Trim(cells[0], "` ")
		rows[key] = strings.TrimSpace(cells[len(cells)-1])
	}
	return rows
}

var (
	mdLink = regexp.MustCompile(`\[([^\]]+)\]\([^)]+\)`)
	mdBold = regexp.MustCompile(`\*\*([^*]+)\*\*`)
)

// plainText is a table cell as a hover shows it: links become their text,
// bold its words; code spans keep their backticks (editors show them).
func plainText(s string) string {
	s = mdLink.ReplaceAllString(s, "$1")
	s = mdBold.ReplaceAllString(s, "$1")
	return strings.ReplaceAll(s, `\|`, "|")
}
