package frame_test

import (
	"context"
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
