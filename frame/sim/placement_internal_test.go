package sim

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame"
)

// placementDiffs compares the simulator's hand-written reading of the docs
// with frame/catalog.json (and catalog_v1alpha.json): the endpoint set,
// where each parameter travels, its shape, and the JSON wrapper.
func placementDiffs(t *testing.T) []string {
	table, err := placements()
	if err != nil {
		t.Fatal(err)
	}
	matched := map[string]bool{}
	var diffs []string
	for _, api := range frame.APIs {
		for _, ep := range frame.CatalogFor(api) {
			key := placementKey(ep.API, ep.Method, ep.Path)
			p, ok := table[key]
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s%s: no docs entry for %s %s", prefix(ep.API), ep.Name, ep.Method, ep.Path))
				continue
			}
			matched[key] = true
			if p.Wrap != ep.JSONWrap {
				diffs = append(diffs, fmt.Sprintf("%s%s: body wrapper docs %q, catalog %q", prefix(ep.API), ep.Name, p.Wrap, ep.JSONWrap))
			}
			seen := map[string]bool{}
			for _, cp := range ep.Params {
				if cp.In == frame.InPath {
					continue
				}
				seen[cp.Name] = true
				dp, ok := p.Params[cp.Name]
				switch {
				case !ok:
					diffs = append(diffs, fmt.Sprintf("%s%s: %s: catalog %s, docs none", prefix(ep.API), ep.Name, cp.Name, catalogLoc(cp)))
				case dp.Loc != string(cp.In) || dp.Shape != catalogShape(cp):
					diffs = append(diffs, fmt.Sprintf("%s%s: %s: catalog %s, docs %s", prefix(ep.API), ep.Name, cp.Name, catalogLoc(cp), docLoc(dp)))
				}
			}
			for name, dp := range p.Params {
				if !seen[name] {
					diffs = append(diffs, fmt.Sprintf("%s%s: %s: catalog none, docs %s", prefix(ep.API), ep.Name, name, docLoc(dp)))
				}
			}
		}
	}
	for key, p := range table {
		if !matched[key] {
			diffs = append(diffs, fmt.Sprintf("docs %s %s %s: no catalog endpoint", apiName(p.API), p.Method, p.Path))
		}
	}
	sort.Strings(diffs)
	return diffs
}

// explainedPlacementDiffs are the differences between the two readings
// that are deliberate, each with its reason. Anything else fails.
var explainedPlacementDiffs = map[string]string{
	"accounts.api_authorization_rules.list: no docs entry for GET /accounts/{account_id}/api_authorization_rules": "The docs give no method line and a curl -X POST, while the title says List and the organization and customer variants are GETs; the catalog uses GET so that plan mode may read it (doc_note). A POST would be refused by the simulator's GET route.",
	"docs v1 POST /accounts/{id}/api_authorization_rules: no catalog endpoint":                                    "The same endpoint as the GET above, as the curl example writes it.",
	"servers.start: account_server_stop: catalog none, docs json object":                                          "The curl example for start sends a stop payload (copied from the stop example); the table lists no body. The catalog sends none, the simulator accepts the copied payload.",
}

func TestPlacementTableMatchesCatalog(t *testing.T) {
	diffs := placementDiffs(t)
	seen := map[string]bool{}
	for _, d := range diffs {
		seen[d] = true
		if why, ok := explainedPlacementDiffs[d]; ok {
			t.Logf("explained: %s\n    because: %s", d, why)
			continue
		}
		t.Errorf("unexplained difference between the docs' placement table and the catalog: %s", d)
	}
	for d := range explainedPlacementDiffs {
		if !seen[d] {
			t.Errorf("explained difference no longer occurs (remove it): %s", d)
		}
	}
}

// Every v1 endpoint of the docs has an entry: 104 in the v1 reference (the
// account API authorization rules once), 6 in v1alpha.
func TestPlacementTableSize(t *testing.T) {
	n := map[string]int{}
	for _, d := range placementTable {
		n[apiName(d.api)]++
	}
	if n["v1"] != 104 || n["v1alpha"] != 6 {
		t.Fatalf("placement table has %v entries, want v1:104 v1alpha:6", n)
	}
}

func prefix(api string) string {
	if api != "" {
		return api + " "
	}
	return ""
}

func apiName(api string) string {
	if api == "" {
		return "v1"
	}
	return api
}

func catalogShape(p frame.Param) string {
	switch p.Type {
	case "array":
		return shapeList
	case "object":
		return shapeObject
	}
	return shapeScalar
}

func catalogLoc(p frame.Param) string {
	return strings.TrimSpace(string(p.In) + " " + catalogShape(p))
}

func docLoc(p placedParam) string { return strings.TrimSpace(p.Loc + " " + p.Shape) }
