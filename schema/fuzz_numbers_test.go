package schema_test

import (
	"math"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/frameflow/frameflow/schema"
)

// numberish is what may be pasted into a numeric field without changing
// the YAML structure around it.
var numberish = regexp.MustCompile(`^[0-9a-fA-FxXoObB_+\-.eE]{1,40}$`)

// exactValue is the number a YAML scalar denotes, exactly (nil: not a
// finite number).
func exactValue(lit string) *big.Float {
	var n yaml.Node
	if yaml.Unmarshal([]byte("v: "+lit), &n) != nil || len(n.Content) == 0 || len(n.Content[0].Content) < 2 {
		return nil
	}
	v := n.Content[0].Content[1]
	switch v.ShortTag() {
	case "!!int":
		// yaml.v3's own reading where it has one (it accepts "0b+0").
		var i64 int64
		if v.Decode(&i64) == nil {
			return new(big.Float).SetInt64(i64)
		}
		// yaml.v3 drops underscores anywhere in an integer.
		s := strings.ReplaceAll(strings.TrimPrefix(v.Value, "+"), "_", "")
		i, ok := new(big.Int).SetString(s, 0)
		if !ok {
			return nil
		}
		return new(big.Float).SetInt(i)
	case "!!float":
		if f, ok := new(big.Float).SetPrec(2000).SetString(strings.ReplaceAll(v.Value, "_", "")); ok {
			return f
		}
		// An exponent big.Float cannot hold (0e100000000000000000000).
		var f64 float64
		if v.Decode(&f64) == nil && !math.IsInf(f64, 0) && !math.IsNaN(f64) {
			return big.NewFloat(f64)
		}
		return nil
	}
	return nil
}

// FuzzNumericFields: a number in an integer or duration field is either
// decoded exactly as written or refused with a diagnostic on its line;
// never silently rounded, wrapped or replaced by the default.
func FuzzNumericFields(f *testing.F) {
	for _, s := range []string{"3", "99999999999999999999999", "1e23", "0x7fffffffffffffffff", "-1", "2.5", "9007199254740993",
		"0o777", "0b101", "1_000", "+12", "9223372036854775807", "9223372036854775808", "1e3", "0x10", "-0", ".5e1",
		// Found by this target: a float that rounds to a whole number, a negative
		// number of seconds that wrapped around, a whole float above 2^53.
		"200.00000000000001", "-10000000000", "20000000000000010."} {
		f.Add(s)
	}
	types := testTypes()
	f.Fuzz(func(t *testing.T, lit string) {
		if !numberish.MatchString(lit) {
			return
		}
		src := "version: 1\nname: n\n" +
			"concurrency: " + lit + "\n" + // line 3
			"max_targets: " + lit + "\n" + // line 4
			"steps:\n  - id: a\n    uses: task.wait\n    with: {task_id: x}\n" +
			"    retry:\n      max_attempts: " + lit + "\n" + // line 10
			"    timeout: " + lit + "\n" + // line 11
			"inputs:\n  n: {type: integer, default: " + lit + "}\n" // line 13
		wf, diags := schema.Load("n.yaml", []byte(src), schema.LoadOptions{StepTypes: types})
		refused := map[int]bool{}
		for _, d := range diags {
			refused[d.Pos.Line] = true
		}
		if wf == nil {
			if len(diags) == 0 {
				t.Fatal("no workflow and no diagnostic")
			}
			return
		}
		want := exactValue(lit)
		check := func(line int, field string, got *big.Float) {
			if refused[line] {
				return
			}
			if want == nil {
				t.Errorf("%s: %q is not a number but was accepted (decoded %v)", field, lit, got)
				return
			}
			if got.Cmp(want) != 0 {
				t.Errorf("%s: %q accepted as %v; want it exact or refused", field, lit, got.Text('g', 30))
			}
		}
		check(3, "concurrency", new(big.Float).SetInt64(int64(wf.Concurrency)))
		check(4, "max_targets", new(big.Float).SetInt64(int64(wf.MaxTargets)))
		if len(wf.Steps) == 1 && wf.Steps[0].Retry != nil {
			check(10, "retry.max_attempts", new(big.Float).SetInt64(int64(wf.Steps[0].Retry.MaxAttempts)))
		}
		if len(wf.Steps) == 1 {
			check(11, "timeout", new(big.Float).SetInt64(int64(wf.Steps[0].Timeout/time.Second)))
		}
		if len(wf.Inputs) == 1 && wf.Inputs[0].HasDefault {
			switch d := wf.Inputs[0].Default.(type) {
			case int:
				check(13, "integer input default", new(big.Float).SetInt64(int64(d)))
			case float64:
				check(13, "integer input default", big.NewFloat(d))
			default:
				if !refused[13] {
					t.Errorf("integer input default %q accepted as %T %v", lit, d, d)
				}
			}
		}
	})
}
