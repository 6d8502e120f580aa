package plan_test

import (
	"bytes"
	"testing"

	"github.com/frameflow/frameflow/plan"
)

// A plan file is untrusted input: whatever its bytes, Parse must not panic,
// and whatever it accepts must survive a save-and-parse round trip intact.
func FuzzParse(f *testing.F) {
	var buf bytes.Buffer
	if err := plan.RenderJSON(&buf, rolloutPlan()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"format_version":1}`))
	f.Add([]byte(`{"format_version":1,"mutations":[{"body":{"a":1e400}}],"hash":""}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := plan.Parse(b)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := plan.RenderJSON(&out, p); err != nil {
			t.Fatalf("an accepted plan does not render: %v", err)
		}
		again, err := plan.Parse(out.Bytes())
		if err != nil {
			t.Fatalf("an accepted plan does not parse after rendering: %v\n%s", err, out.Bytes())
		}
		if again.Hash != p.Hash {
			t.Fatalf("hash changed in a round trip: %s, then %s", p.Hash, again.Hash)
		}
	})
}
