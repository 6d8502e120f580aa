package frame

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The one-pass ExtractTask must agree with the general, map-based path on
// every body: the same task or the same error.
func FuzzExtractTaskMatchesGeneral(f *testing.F) {
	files, _ := filepath.Glob("../testdata/api/tasks/*.json")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		``, `null`, `[]`, `"t1"`, `{}`, `{`, ` {"id":"x","stage":"done"} `,
		`{"id":"acc-1","name":"Store-1","active":true}`,
		`{"pending_request":{"stage":"done"}}`,
		`{"pending_request":{"id":""}}`,
		`{"pending_request":"t1"}`,
		`{"pending_request":null,"task":{"id":"n","stage":"done"}}`,
		`{"account":{"id":"acc"},"pending_request":{"id":"t1","stage":"failed","result_info":{"error":"disk"}}}`,
		`{"account":{"id":"acc"},"id":7,"pending_request":{"id":"t1"}}`,
		`{"id":"","stage":"done"}`,
		`{"id":7,"stage":"done"}`,
		`{"id":"x","stage":7}`,
		`{"id":"x","stage":null}`,
		`{"id":"x","Stage":"done"}`,
		`{"TASK":{"id":"x","stage":"done"}}`,
		`{"task":null,"stage":"done","id":"y"}`,
		`{"id":"x","progress_info":{"stage":"1"}}`,
		`{"pending_request":{"id":"a","stage":"x"},"pending_request":{"stage":"y"}}`,
		`{"pending_request":{"id":"a"},"pending_request":null}`,
		`{"task":{"id":"a","pool_id":"p"},"task":{"id":"b"}}`,
		`{"pending_request":{"id":"a","kind":"pending_request"}}`,
		`{"pending_request":{}}`,
		`{"id":"x","stage":"a\"b"}`,
		`{"id":"x","stage":"\u0041"}`,
		`{"id":"x","stage":""}`,
		`{"id":"x","stage":"done","stage":"failed"}`,
		`{"id":"x","stage":"done","duration_sec":1e999}`,
		`{"id":"x","stage":"done","duration_sec":01}`,
		`{"id":"x","stage":"done","duration_sec":-0}`,
		`{"id":"x","stage":"done","duration_sec":1.}`,
		`{"id":"x","stage":"done","duration_sec":"1"}`,
		`{"id":"x","stage":"done","pool_id":nul}`,
		`{"id":"x","stage":"done","result_info":{"a":"}]","b":[{"c":"\\"}]}}`,
		`{"id":"x","stage":"done","result_info":{"a":1}}}`,
		`{"id":"x","stage":"done","other":[1,2}`,
		`{"id":"x","stage":"done","other":tru}`,
		`{"id":"x","stage":"done","progress_info":1 2}`,
		`{"id":"x","st\u0061ge":"done"}`,
		`{"id":"x","stage":"done"}`,
		`{"id":"x","stage":"done",}`,
		`{"id":"x" "stage":"done"}`,
		`{"pending_request":{"id":"a","pending_request":{"id":"b"}}}`,
		`{"pending_request":{"id":"a"}} x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, gotErr := ExtractTask(body)
		want, wantErr := extractTaskGeneral(trimmed(body))
		if len(trimmed(body)) == 0 {
			return // both refuse an empty body before any decoding
		}
		if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Fatalf("%q: error %v, general path %v", body, gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: task %+v, general path %+v", body, got, want)
		}
	})
}

func trimmed(b []byte) []byte { return bytes.TrimSpace(b) }

func TestExtractTaskKeySpelling(t *testing.T) {
	for _, body := range []string{
		`{"Pending_request":{"id":"a"},"y":{"pending_request":1}}`,
		`{"pending_request":null,"PENDING_REQUEST":{"id":"a"}}`,
		`{"id":"x","ſtage":"done"}`,
		`{"id":"x","Stage":"done","p":{"stage":1}}`,
		`{"id":"x","st\u0061ge":"done"}`,
	} {
		got, gotErr := ExtractTask([]byte(body))
		want, wantErr := extractTaskGeneral([]byte(body))
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v %v; general path %+v %v", body, got, gotErr, want, wantErr)
		}
	}
}

func BenchmarkExtractTask(b *testing.B) {
	for _, name := range []string{"bare", "wrapped"} {
		body := []byte(`{"id":"8a3e1c9e-1d2f-4c5b-9a7e-3f2b1c0d9e8f","account_id":"acc","kind":"clone_sandbox","display_name":"Cloning Sandbox","stage":"done","duration_sec":1.02,"inserted_at":"2026-11-24T02:57:10Z","updated_at":"2026-11-24T02:57:11Z","finished_at":"2026-11-24T02:57:11Z","progress_info":{"percent":100},"result_info":null}`)
		if name == "wrapped" {
			body = []byte(`{"account":{"id":"acc","name":"Store-0001","active":true},"pending_request":` + string(body) + `}`)
		}
		b.Run(name+"/one-pass", func(b *testing.B) {
			for b.Loop() {
				if _, err := ExtractTask(body); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/general", func(b *testing.B) {
			for b.Loop() {
				if _, err := extractTaskGeneral(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The scanner must take the shapes Frame and the simulator send, or it
// saves nothing; FuzzExtractTaskMatchesGeneral holds its answers to the
// general path's.
func TestFastExtractTaskTakesThePlainShapes(t *testing.T) {
	task := `{"account_id":"acc","customer_id":"c","display_name":"Cloning Sandbox","duration_sec":null,"external_resource_id":null,` +
		`"finished_at":null,"id":"8a3e","inserted_at":"2026-11-24T02:57:10Z","kind":"clone_sandbox","organization_id":"o","pool_id":"p1",` +
		`"progress_info":null,"result_info":{"a":[1,"x\"y",{"b":null}]},"stage":"in_progress","started_by":{"email":"e@x","id":"u"},"updated_at":"2026-11-24T02:57:10Z"}`
	for _, body := range []string{
		task,
		`{"account":{"id":"acc","name":"Store-0001","active":true,"description":null,"tags":["a\\b"]},"pending_request":` + task + `}`,
		`{"pending_request":` + task + `}`,
		`{"task":` + task + `}`,
		` { "id" : "t" , "stage" : "done" , "duration_sec" : 1.5e0 } `[1:],
	} {
		got, err, ok := fastExtractTask([]byte(strings.TrimSpace(body)))
		if !ok || err != nil {
			t.Errorf("%s: ok=%v err=%v, want the scanner to take it", body, ok, err)
			continue
		}
		want, werr := extractTaskGeneral([]byte(strings.TrimSpace(body)))
		if werr != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v (%v)", body, got, want, werr)
		}
	}
}
