package sim

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkCheckPlacement measures what strictness costs the simulator per
// request: the placement check of a form body (elasticity) and of a wrapped
// JSON body (session settings, 29 keys).
func BenchmarkCheckPlacement(b *testing.B) {
	table, err := placements()
	if err != nil {
		b.Fatal(err)
	}
	form := table[placementKey("", "POST", "/pools/{}/elasticity_settings")]
	wrapped := table[placementKey("", "POST", "/accounts/{}/update_session_settings")]
	var keys []string
	for name := range wrapped.Params {
		v := "1"
		if name == "clipboard_integration" {
			v = `{"is_enabled":true,"direction":"bidirectional"}`
		}
		keys = append(keys, `"`+name+`":`+v)
	}
	jsonBody := []byte(`{"session_settings":{` + strings.Join(keys, ",") + `}}`)
	formBody := []byte("min_servers=1&buffer_servers=1&max_servers=5")
	b.Run("form", func(b *testing.B) {
		r := httptest.NewRequest("POST", "/v1/pools/p/elasticity_settings", nil)
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		b.ReportAllocs()
		for b.Loop() {
			if err := checkPlacement(form, r, formBody); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("wrapped_json_29_keys", func(b *testing.B) {
		r := httptest.NewRequest("POST", "/v1/accounts/a/update_session_settings", nil)
		r.Header.Set("Content-Type", "application/json")
		b.ReportAllocs()
		for b.Loop() {
			if err := checkPlacement(wrapped, r, jsonBody); err != nil {
				b.Fatal(err)
			}
		}
	})
}
