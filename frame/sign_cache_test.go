package frame_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame"
)

// Requests of one second share a signature; each request still carries the
// signature of its own timestamp when the clock moves on, or back.
func TestEachRequestIsSignedForItsOwnSecond(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, `{}`) })
	seconds := []int64{1_700_000_000, 1_700_000_000, 1_700_000_001, 1_700_000_000, 1_700_000_002, 1_700_000_002}
	i := 0
	c := newClient(t, srv.URL(), func(cfg *frame.Config) {
		cfg.Now = func() time.Time { return time.Unix(seconds[i], 0) }
	})
	for i = range seconds {
		if _, err := c.Do(context.Background(), &frame.Request{Method: "GET", Path: "/accounts"}, nil); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	reqs := srv.Requests()
	if len(reqs) != len(seconds) {
		t.Fatalf("%d requests, want %d", len(reqs), len(seconds))
	}
	for i, r := range reqs {
		if r.Timestamp != strconv.FormatInt(seconds[i], 10) || !r.SigOK {
			t.Errorf("request %d: timestamp %s (want %d), signature valid: %v", i, r.Timestamp, seconds[i], r.SigOK)
		}
	}
}
