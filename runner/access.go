package runner

import (
	"errors"
	"net/http"
	"strings"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

// AccessHint says what to check when every failure of res is the API
// refusing the credentials (401), their permissions (403), or not being
// reached at all: nothing about the workflow is wrong, so "fix the cause
// and resume" would mislead. "" when some failure is anything else.
func AccessHint(res *engine.Result) string {
	hint := ""
	for _, st := range res.Steps {
		if st.Status != engine.StatusFailed || isFanOutSummary(st) {
			continue
		}
		h := accessHint(st.Err)
		if h == "" {
			return ""
		}
		if hint == "" {
			hint = h
		}
	}
	return hint
}

// AccessHintForError is AccessHint for one request's error (frameflow api).
func AccessHintForError(err error) string { return accessHint(err) }

func accessHint(err error) string {
	if err == nil {
		return ""
	}
	var api *frame.APIError
	if errors.As(err, &api) {
		switch api.Status {
		case http.StatusUnauthorized:
			return "the API refused the credentials: check FRAME_CLIENT_ID and FRAME_CLIENT_SECRET (or the --credentials file), that they were made for this API URL, and this machine's clock (every request is signed with the time)"
		case http.StatusForbidden:
			return "the credentials are not allowed to do this: check the API client's role (permissions) in the Frame console"
		case http.StatusNotFound:
			// A list at the top of the API is never "not found" when the
			// base URL is right.
			if p, _, _ := strings.Cut(api.Path, "?"); p == "/accounts" || p == "/organizations" || p == "/customers" {
				return "the API answered 404 for a top-level path: check that the API URL ends with /v1 (https://api.console.nutanix.com/v1)"
			}
		}
		return ""
	}
	if c, _ := frame.Classify(err); c == frame.ClassNetwork {
		return "the API could not be reached: check the API URL (--api-url or FRAME_API_URL), the network and any proxy"
	}
	return ""
}
