package frame_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame"
)

// A server (or a proxy in front of it) that echoes the request's headers in
// its error body must not get the signature into the error.
func TestEchoedSignatureIsRedactedFromErrors(t *testing.T) {
	s := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, http.StatusBadRequest, `{"error":"bad request; you sent X-Frame-Signature: `+r.Header.Get(frame.HeaderSignature)+`"}`)
	})
	c := newClient(t, s.URL())
	_, err := c.Do(context.Background(), &frame.Request{Method: "GET", Path: "/accounts"}, nil)
	noteErr(err)
	if err == nil {
		t.Fatal("no error")
	}
	sig := s.Requests()[0].Signature
	if sig == "" || strings.Contains(err.Error(), sig) {
		t.Fatalf("the signature is in the error: %v", err)
	}
	if !strings.Contains(err.Error(), "you sent X-Frame-Signature: [redacted]") {
		t.Fatalf("the rest of the message should stay: %v", err)
	}
}

// Capacity numbers out of range are refused by the catalog itself, so the
// generic api.pools.elasticity.set step and Call refuse them as elasticity.set
// does: nothing is sent.
func TestCatalogBoundsRefuseImpossibleCapacities(t *testing.T) {
	s := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, http.StatusOK, `{"id":"t1","stage":"not_started"}`)
	})
	c := newClient(t, s.URL())
	for _, tc := range []struct {
		params map[string]any
		want   string
	}{
		{map[string]any{"pool_id": "p1", "min_servers": -1, "max_servers": 5}, "less than the minimum 0"},
		{map[string]any{"pool_id": "p1", "max_servers": "1001"}, "more than the maximum 1000"},
		{map[string]any{"pool_id": "p1", "min_servers": 9, "max_servers": 5}, "min_servers 9 is more than max_servers 5"},
	} {
		_, err := c.Call(context.Background(), "pools.elasticity.set", tc.params)
		noteErr(err)
		var inv *frame.InvalidRequestError
		if !errors.As(err, &inv) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an invalid request saying %q", tc.params, err, tc.want)
		}
	}
	if _, err := c.Call(context.Background(), "pools.elasticity.set", map[string]any{"pool_id": "p1", "min_servers": 0, "max_servers": 1000}); err != nil {
		t.Errorf("a valid capacity: %v", err)
	}
	if n := s.Count(); n != 1 {
		t.Errorf("%d requests sent, want only the valid one", n)
	}
}

// A mutation the server accepted (2xx) whose answer cannot be read took
// effect: it must not look like a refused request, which a step retry or a
// resume would send again (a second clone). It is outcome unknown, so the
// journal reconciles it instead.
func TestAcceptedMutationWithAnUnreadableAnswerIsOutcomeUnknown(t *testing.T) {
	s := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"unexpected": [`))
	})
	c := newClient(t, s.URL())
	ctx := context.Background()
	calls := map[string]func() error{
		"Publish": func() error { _, err := c.Publish(ctx, "acc-1"); return err },
		"Call": func() error {
			_, err := c.Call(ctx, "sandbox.publish", map[string]any{"account_id": "acc-1"})
			return err
		},
		"Do": func() error {
			var out map[string]any
			_, err := c.Do(ctx, &frame.Request{Method: "POST", Path: "/accounts/acc-1/publish"}, &out)
			return err
		},
	}
	for name, call := range calls {
		err := call()
		noteErr(err)
		var ou *frame.OutcomeUnknownError
		if !errors.As(err, &ou) {
			t.Errorf("%s: %v (%T), want an OutcomeUnknownError", name, err, err)
		}
		if class, _ := frame.Classify(err); class != frame.ClassOutcomeUnknown {
			t.Errorf("%s: class %s", name, class)
		}
	}
	if n := s.Count(); n != len(calls) {
		t.Errorf("%d requests for %d calls: something was re-sent", n, len(calls))
	}
	// A read whose answer cannot be read is a plain error.
	if _, err := c.GetAccount(ctx, "acc-1"); err == nil || errors.As(err, new(*frame.OutcomeUnknownError)) {
		t.Errorf("GET with an unreadable answer: %v", err)
	}
}

// A 500 to a mutation comes from the server itself, which may have acted
// before failing: like a gateway's 502 or 504 it is outcome unknown (the
// journal reconciles), not a server_error the step retry would re-send.
func TestInternalServerErrorToAMutationIsOutcomeUnknown(t *testing.T) {
	s := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, http.StatusInternalServerError, `{"error":"internal error"}`)
	})
	c := newClient(t, s.URL())
	_, err := c.Publish(context.Background(), "acc-1")
	noteErr(err)
	if class, _ := frame.Classify(err); class != frame.ClassOutcomeUnknown || !strings.Contains(err.Error(), "500") {
		t.Errorf("POST answered 500: %v (class %s), want outcome unknown", err, class)
	}
	_, err = c.GetAccount(context.Background(), "acc-1")
	if class, _ := frame.Classify(err); class != frame.ClassServerError {
		t.Errorf("GET answered 500: class %s, want server_error", class)
	}
	if n := s.Count(); n != 2 {
		t.Errorf("%d requests, want 2 (a 500 is not retried by the client)", n)
	}
}
