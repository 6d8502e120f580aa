package steps

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestArgsInteger holds integer to the inputs it accepts and the message
// it gives for the others (the message is built only on the error path).
func TestArgsInteger(t *testing.T) {
	for _, c := range []struct {
		v    any
		want int
		bad  string // "" when accepted
	}{
		{v: 5, want: 5},
		{v: int64(-7), want: -7},
		{v: int32(3), want: 3},
		{v: uint64(9), want: 9},
		{v: 4.0, want: 4},
		{v: json.Number("12"), want: 12},
		{v: " 8 ", want: 8},
		{v: 1.5, bad: "got number 1.5"},
		{v: math.NaN(), bad: "got number NaN"},
		{v: int64(math.MaxInt32) + 1, bad: "got number 2147483648"},
		{v: uint64(math.MaxInt32) + 1, bad: "want a whole number"},
		{v: float64(math.MaxInt32) * 2, bad: "want a whole number"},
		{v: json.Number("1e3"), bad: "got number 1e3"},
		{v: "ten", bad: `got "ten"`},
		{v: true, bad: "got boolean true"},
	} {
		n, ok, err := args{"max_servers": c.v}.integer("max_servers")
		if !ok {
			t.Errorf("%#v: reported absent", c.v)
		}
		switch {
		case c.bad == "" && (err != nil || n != c.want):
			t.Errorf("%#v: got %d, %v; want %d", c.v, n, err, c.want)
		case c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad) || !strings.HasPrefix(err.Error(), "input max_servers: want a whole number, got ")):
			t.Errorf("%#v: got error %v; want one containing %q", c.v, err, c.bad)
		}
	}
	if _, ok, err := (args{"x": nil}).integer("x"); ok || err != nil {
		t.Errorf("nil: ok %v, err %v; want absent", ok, err)
	}
	if _, ok, err := (args{}).integer("x"); ok || err != nil {
		t.Errorf("missing: ok %v, err %v; want absent", ok, err)
	}
}
