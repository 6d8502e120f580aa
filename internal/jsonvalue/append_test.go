package jsonvalue

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

// Append must write exactly what json.Marshal writes, or decline.
func check(t *testing.T, v any) {
	t.Helper()
	want, err := json.Marshal(v)
	got, ok := Append([]byte("prefix"), v)
	if string(got[:6]) != "prefix" {
		t.Fatalf("%#v: the prefix was overwritten: %q", v, got)
	}
	if !ok {
		if len(got) != 6 {
			t.Errorf("%#v: declined but wrote %q", v, got[6:])
		}
		return
	}
	if err != nil {
		t.Errorf("%#v: Marshal fails (%v) but Append wrote %s", v, err, got[6:])
		return
	}
	if string(got[6:]) != string(want) {
		t.Errorf("%#v:\n got %s\nwant %s", v, got[6:], want)
	}
}

func TestAppendMatchesMarshal(t *testing.T) {
	var nilMap map[string]any
	var nilList []any
	values := []any{
		nil, true, false, "", "plain", `q"uote\back/slash`, "<a href='x'>&amp;</a>", "\b\f\n\r\t\x00\x01\x1f\x7f",
		"caf\u00e9 \u2028 \u2029 \U0001F600", "bad \xff\xfe utf8 \xe2\x82", "\xed\xa0\x80 surrogate",
		0.0, math.Copysign(0, -1), 1.0, -1.5, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 123456789012345678901234.0, 0.1, 1.0 / 3,
		math.MaxFloat64, math.SmallestNonzeroFloat64, 5e-324, 1e-10, -2.5e-9, 3,
		int64(-9), math.NaN(), math.Inf(1), math.Inf(-1),
		nilMap, nilList, map[string]any{}, []any{},
		map[string]any{"z": 1.0, "a": []any{"x", 2.5, nil, map[string]any{"<k>": "v", "": true}}, "\u2028": "é", "B": false, "b\xff": 1.0},
		map[string]any{"nan": math.NaN()}, []any{1.0, math.Inf(1)},
		map[string]any{"other": []string{"x", "<\xff>"}, "m": map[string]string{"b": "\u2028", "a": "&"}}, []string(nil), map[string]string(nil),
		map[string]string{}, []string{}, struct{}{}, json.Number("1"), float32(1.5), uint(3), []int{1},
	}
	big, bigStrings := map[string]any{}, map[string]string{}
	for i := range 40 {
		k := string(rune('a'+i%26)) + string(rune('A'+i))
		big[k], bigStrings[k] = float64(i), k
	}
	values = append(values, big, bigStrings)
	for _, v := range values {
		check(t, v)
	}
}

func TestAppendMatchesMarshalOnRandomValues(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var gen func(depth int) any
	gen = func(depth int) any {
		switch k := r.IntN(9); {
		case k == 0:
			return nil
		case k == 1:
			return r.IntN(2) == 0
		case k == 2:
			return math.Float64frombits(r.Uint64())
		case k == 3:
			return float64(r.IntN(2000000)-1000000) / float64(int(1)<<r.IntN(40))
		case k == 4 && depth < 4:
			m := map[string]any{}
			for range r.IntN(6) {
				m[randString(r)] = gen(depth + 1)
			}
			return m
		case k == 5 && depth < 4:
			l := []any{}
			for range r.IntN(6) {
				l = append(l, gen(depth+1))
			}
			return l
		case k == 6:
			return r.Int64()
		default:
			return randString(r)
		}
	}
	for range 20000 {
		check(t, gen(0))
	}
}

func randString(r *rand.Rand) string {
	pieces := []string{"a", "Z", "0", " ", `"`, `\`, "<", ">", "&", "\x00", "\x1f", "\n", "\x7f", "é", "\u2028", "\u2029", "\U0001F600", "\xff", "\xe2\x82", "\xed\xa0\x80", "\ufffd"}
	b := []byte{}
	for range r.IntN(8) {
		if r.IntN(4) == 0 {
			b = append(b, byte(r.IntN(256)))
		} else {
			b = append(b, pieces[r.IntN(len(pieces))]...)
		}
	}
	return string(b)
}

func BenchmarkOutputs(b *testing.B) {
	v := map[string]any{"task": map[string]any{"account_id": "3d268d25-dde7-5bc8-9f97-0b50c0f935b1", "display_name": "Cloning pool",
		"id": "41e5a1b0-8f0e-4c1e-9a51-7b2b1a0c9f11", "kind": "clone_pool", "stage": "done", "duration_sec": 1.0}}
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(v)
		}
	})
	b.Run("Append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = Append(make([]byte, 0, 512), v)
		}
	})
}

// BenchmarkAppendString: the strings of a journal line or an event (ids,
// paths, times), ASCII without escapes.
func BenchmarkAppendString(b *testing.B) {
	strs := []string{"3d268d25-dde7-5bc8-9f97-0b50c0f935b1", "/accounts/3d268d25-dde7-5bc8-9f97-0b50c0f935b1/pools/prod/elasticity_settings",
		"rollout.capacity", "Store-1234", "2026-11-30T16:03:46.123456789Z", "succeeded"}
	buf := make([]byte, 0, 512)
	for b.Loop() {
		buf = buf[:0]
		for _, s := range strs {
			buf = AppendString(buf, s)
		}
	}
}
