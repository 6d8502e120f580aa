package journal

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The fast path (no redaction round trip) must write what the round trip
// would have: the same values, only nested keys possibly in another order.
func TestEncodeSkipsTheRoundTripOnlyWhenNothingChanges(t *testing.T) {
	const secret = `p<a"ss>\w`
	replace := strings.NewReplacer(secret, "[redacted]").Replace
	// Only whole strings: a check of the raw line could never see these.
	whole := func(s string) string {
		if s == secret {
			return "[redacted]"
		}
		return s
	}
	idx := 3
	cases := []struct {
		name   string
		rec    record
		redact func(string) string
		fast   bool
	}{
		{"no secret", record{T: recIntent, Key: "clone[a1]#1", Method: "POST", Path: "/accounts/a1/clone",
			Body: map[string]any{"z": 1, "a": []any{"x", 2.5}}, Query: map[string]string{"q": "<&>"}}, replace, true},
		{"no redactor", record{T: recStep, Step: "s", Index: &idx, Error: secret}, nil, true},
		{"secret in an escaped value", record{T: recFailed, Key: "k", Error: "refused: " + secret}, replace, false},
		{"secret as a whole body value", record{T: recIntent, Key: "k", Body: map[string]any{"pw": secret}}, whole, false},
		{"secret as a key", record{T: recIntent, Key: "k", Body: map[string]any{secret: 1}}, whole, false},
		{"secret in raw outputs", record{T: recStep, Step: "s", Status: "succeeded", Outputs: json.RawMessage(`{"p":"p\u003ca\"ss\u003e\\w"}`)}, replace, false},
		{"secret in the result", record{T: recResult, Key: "k", Result: json.RawMessage(`["x","` + strings.ReplaceAll(strings.ReplaceAll(secret, `\`, `\\`), `"`, `\"`) + `"]`)}, whole, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			line, written, err := encode(&c.rec, c.redact)
			if err != nil {
				t.Fatal(err)
			}
			if fast := written == &c.rec; fast != c.fast {
				t.Errorf("fast path %v, want %v", fast, c.fast)
			}
			if !strings.HasPrefix(string(line), `{"t":`) || !strings.HasSuffix(string(line), "}\n") {
				t.Errorf("line %s", line)
			}
			var onDisk, applied any
			if err := json.Unmarshal(line, &onDisk); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(written)
			if err := json.Unmarshal(b, &applied); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(onDisk, applied) {
				t.Errorf("applied %s\nwritten %s", b, line)
			}
			if c.redact != nil && strings.Contains(mustUnescape(t, line), secret) {
				t.Errorf("secret written: %s", line)
			}
		})
	}
}

// mustUnescape gives every string of a JSON line decoded, joined, so that a
// secret written with escapes is found.
func mustUnescape(t *testing.T, line []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(line, &v); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			sb.WriteString(x + "\x00")
		case map[string]any:
			for k, e := range x {
				sb.WriteString(k + "\x00")
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return sb.String()
}

func TestNeedsRedactionSeesEveryString(t *testing.T) {
	mark := func(s string) string { return strings.ReplaceAll(s, "S", "*") }
	for line, want := range map[string]bool{
		`{"t":"x","a":["b",1,{"c":"d"}]}`:       false,
		`{"t":"x","a":["b",1,{"c":"dS"}]}`:      true,
		`{"t":"x","S":1}`:                       true,
		`{"t":"x","a":"\u0053"}`:                true, // S, escaped
		`{"t":"x","a":"\\\"","b":"S"}`:          true, // escapes before the secret do not end the scan early
		`{"t":"x","a":"\\","b":"ok"}`:           false,
		`{"t":"x","a":"unterminated`:            true,
		`{"t":"x","n":12345,"b":true,"z":null}`: false,
	} {
		if got := needsRedaction([]byte(line), mark); got != want {
			t.Errorf("needsRedaction(%s) = %v, want %v", line, got, want)
		}
	}
}

// BenchmarkEncodeStepRecord is the journal's cost per record in a rollout:
// a step record with outputs, checked against a redactor that finds nothing.
func BenchmarkEncodeStepRecord(b *testing.B) {
	redact := strings.NewReplacer("a-client-secret-value", "***").Replace
	i := 3
	rec := &record{T: recStep, Step: "rollout.clone", Item: "Store-0004", ItemKey: "3d268d25-dde7-5bc8-9f97-0b50c0f935b1", Index: &i,
		Status: "succeeded", Attempts: 1, DurationMS: 1062,
		Outputs: json.RawMessage(`{"task":{"account_id":"3d268d25-dde7-5bc8-9f97-0b50c0f935b1","display_name":"Cloning pool","id":"41e5a1b0-8f0e-4c1e-9a51-7b2b1a0c9f11","kind":"clone_pool","stage":"done"}}`),
		ownJSON: true} // as Record makes it
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := encode(rec, redact); err != nil {
			b.Fatal(err)
		}
	}
}

// marshalRecord's splice must write exactly what json.Marshal writes,
// whatever the strings around the spliced fields hold.
func TestMarshalRecordSplicesByteForByte(t *testing.T) {
	i := 3
	tricky := `"outputs":0 "result":0 \"outputs\":0 <&> ` + "\u2028\x01"
	started := time.Date(2026, 11, 30, 12, 0, 0, 5, time.UTC)
	outputs := json.RawMessage(`{"task":{"id":"t1","stage":"done","n":[1,2.5,null,true,"\"outputs\":0"]}}`)
	cases := []record{
		{T: recStep, Step: "rollout.clone", Item: "Store-0004", ItemKey: "k", Index: &i, Status: "succeeded", Attempts: 1, DurationMS: 1062, Outputs: outputs, ownJSON: true},
		{T: recStep, Step: tricky, Item: tricky, ItemKey: tricky, Status: tricky, Error: tricky, Started: &started, Outputs: outputs, ownJSON: true},
		{T: recResult, Key: tricky, Result: json.RawMessage(`{"id":"91","stage":"queued"}`), Via: "send", ownJSON: true},
		{T: recResult, Key: "k", Result: json.RawMessage(`null`), Via: tricky, Attempt: 2, Time: started, ownJSON: true},
		{T: recResult, Key: "k", Result: json.RawMessage(`"result":0`[9:]), Via: "send", ownJSON: true},
		// Fields that may hold objects take json.Marshal itself.
		{T: recStep, Step: "s", Outputs: outputs, Body: map[string]any{"outputs": 0}, ownJSON: true},
		{T: recResult, Key: "k", Result: outputs, Witness: json.RawMessage(`{"result":0}`), ownJSON: true},
		{T: recStep, Step: "s", Outputs: outputs},
	}
	for _, rec := range cases {
		want, err := json.Marshal(&rec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := marshalRecord(&rec)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("marshalRecord:\n got %s\nwant %s", got, want)
		}
	}
}

// identityJSON is compared across runs and versions: it must stay
// json.Marshal's text of identityFields for every body.
func TestIdentityJSONIsMarshalsText(t *testing.T) {
	var nilMap map[string]any
	bodies := []any{nil, nilMap, map[string]any{}, map[string]any{"target_account_id": "store-1", "n": 3.0, "list": []any{"<&>", nil, true}},
		map[string]string{"b": "2", "a": "\u2028"}, "raw text", 5.5, []any{}, struct {
			X int `json:"x"`
		}{7}, map[string]int{"a": 1}}
	queries := []map[string]string{nil, {}, {"name": "QA & <co>", "a": "\xff"}}
	for _, body := range bodies {
		for _, q := range queries {
			rec := &record{Method: "POST", Path: "/accounts/a\"1/clone", Query: q, Body: body}
			want, err := json.Marshal(identityFields{"estate <1>", rec.Method, rec.Path, rec.Query, rec.Body})
			if err != nil {
				t.Fatal(err)
			}
			got, err := identityJSON("estate <1>", rec)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("body %#v query %v:\n got %s\nwant %s", body, q, got, want)
			}
		}
	}
}

// appendRecord must write every field of record exactly as json.Marshal
// does: each field is filled (or left empty) at random, by reflection, so
// a field added to record and not to appendRecord fails here.
func TestAppendRecordIsMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	strs := []string{"", "x", `q"uote\`, "<a>&b", "caf\u00e9 \u2028", "bad\xff", "\x01\n"}
	str := func() string { return strs[r.IntN(len(strs))] }
	generic := func() any {
		return []any{nil, "s<>", 2.5, true, map[string]any{"k": []any{1.0, "\u2029"}}, map[string]any{}}[r.IntN(6)]
	}
	raws := []string{`{"a": [1, "x<y>&", null] }`, ` "s" `, `7`, `{"outputs":0}`, `{bad`, `null`, "[\"p\u2028q\u2029\"]", `{"k":"plain"}`}
	times := []time.Time{{}, time.Date(2026, 11, 30, 12, 0, 0, 123456789, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	rt := reflect.TypeOf(record{})
	written := 0
	for n := 0; n < 3000; n++ {
		var rec record
		v := reflect.ValueOf(&rec).Elem()
		for i := range rt.NumField() {
			f := v.Field(i)
			if !rt.Field(i).IsExported() || r.IntN(3) == 0 {
				continue // left empty
			}
			switch f.Interface().(type) {
			case string:
				f.SetString(str())
			case int, int64:
				f.SetInt(int64(r.IntN(5) - 1))
			case time.Time:
				f.Set(reflect.ValueOf(times[r.IntN(len(times))]))
			case *time.Time:
				tm := times[r.IntN(len(times))]
				f.Set(reflect.ValueOf(&tm))
			case *int:
				k := r.IntN(3) - 1
				f.Set(reflect.ValueOf(&k))
			case map[string]any:
				f.Set(reflect.ValueOf(map[string]any{str(): generic(), "b": generic()}))
			case map[string]string:
				f.Set(reflect.ValueOf(map[string]string{str(): str()}))
			case []string:
				f.Set(reflect.ValueOf([]string{str(), str()}))
			case json.RawMessage:
				f.Set(reflect.ValueOf(json.RawMessage(raws[r.IntN(len(raws))])))
			default:
				if rt.Field(i).Type.Kind() == reflect.Interface {
					f.Set(reflect.ValueOf(&[]any{generic(), struct{ X int }{1}}[r.IntN(2)]).Elem())
					continue
				}
				t.Fatalf("record.%s: a type this test does not fill (%s): teach it and appendRecord", rt.Field(i).Name, rt.Field(i).Type)
			}
		}
		if r.IntN(2) == 0 {
			// As Record and recordResult make them: Marshal's own output.
			rec.ownJSON = true
			if rec.Outputs != nil {
				rec.Outputs, _ = json.Marshal(generic())
			}
			if rec.Result != nil {
				rec.Result, _ = json.Marshal(generic())
			}
		}
		want, wantErr := json.Marshal(&rec)
		got, err := marshalRecord(&rec)
		if (err == nil) != (wantErr == nil) || string(got) != string(want) {
			t.Fatalf("record %+v:\n got %s (%v)\nwant %s (%v)", rec, got, err, want, wantErr)
		}
		if b, ok := appendRecord(nil, &rec); ok {
			written++
			if wantErr != nil || string(b) != string(want) {
				t.Fatalf("record %+v: appendRecord wrote\n%s\nwhere Marshal writes\n%s (%v)", rec, b, want, wantErr)
			}
		}
	}
	if written < 300 {
		t.Errorf("appendRecord wrote only %d of the 3,000 records itself: the test no longer reaches it", written)
	}
}
