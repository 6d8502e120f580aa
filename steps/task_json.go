package steps

import (
	"encoding/json"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/frameflow/frameflow/frame"
)

// Every mutation's task and every poll's answer passes between frame.Task
// and its JSON object form (map[string]any) a few times per step. Going
// through encoding/json each time (Marshal, then Unmarshal) was ~5% of a
// 2,000-store rollout's CPU, so taskFromMap (and frame.Task.JSONObject the
// other way) build the result directly. Each gives exactly what the JSON
// round trip gives, or reports ok=false and the caller takes the round trip
// (for its error message, or for a shape it does not cover);
// task_json_internal_test.go compares them.

// taskFields are frame.Task's JSON names. encoding/json matches object
// keys to them case-insensitively: a key that folds to one of them but is
// not spelled the same is left to the round trip.
var taskFields = []string{"id", "account_id", "customer_id", "organization_id", "pool_id", "kind", "display_name",
	"stage", "duration_sec", "inserted_at", "updated_at", "finished_at", "progress_info", "result_info", "external_resource_id"}

// taskFromMap is json.Unmarshal(json.Marshal(m)) into a frame.Task.
func taskFromMap(m map[string]any) (*frame.Task, bool) {
	var t frame.Task
	for k, v := range m {
		var ok bool
		switch k {
		case "id":
			ok = setString(&t.ID, v)
		case "account_id":
			ok = setString(&t.AccountID, v)
		case "customer_id":
			ok = setString(&t.CustomerID, v)
		case "organization_id":
			ok = setString(&t.OrganizationID, v)
		case "kind":
			ok = setString(&t.Kind, v)
		case "display_name":
			ok = setString(&t.DisplayName, v)
		case "stage":
			ok = setString(&t.Stage, v)
		case "inserted_at":
			ok = setString(&t.InsertedAt, v)
		case "updated_at":
			ok = setString(&t.UpdatedAt, v)
		case "pool_id":
			t.PoolID, ok = stringPtr(v)
		case "finished_at":
			t.FinishedAt, ok = stringPtr(v)
		case "duration_sec":
			switch x := v.(type) {
			case nil:
				ok = true
			case float64:
				t.DurationSec, ok = &x, finite(x)
			}
		case "progress_info":
			t.ProgressInfo, ok = rawJSON(v)
		case "result_info":
			t.ResultInfo, ok = rawJSON(v)
		case "external_resource_id":
			t.ExternalResourceID, ok = rawJSON(v)
		default:
			ok = !foldsToTaskField(k)
		}
		if !ok {
			return nil, false
		}
	}
	return &t, true
}

// setString stores a JSON string; null leaves the field as it is, as
// encoding/json does.
func setString(dst *string, v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		if !utf8.ValidString(x) {
			return false // Marshal would replace the bad bytes
		}
		*dst = x
		return true
	}
	return false
}

func stringPtr(v any) (*string, bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case string:
		if !utf8.ValidString(x) {
			return nil, false
		}
		return &x, true
	}
	return nil, false
}

// rawJSON is what a json.RawMessage field holds after the round trip: the
// value's compact encoding (null for nil).
func rawJSON(v any) (json.RawMessage, bool) {
	if v == nil {
		return json.RawMessage("null"), true // most tasks' progress and result info
	}
	b, err := json.Marshal(v)
	return b, err == nil
}

// finite: Marshal refuses NaN and infinities.
func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func foldsToTaskField(k string) bool {
	for _, f := range taskFields {
		if strings.EqualFold(k, f) {
			return true
		}
	}
	return false
}
