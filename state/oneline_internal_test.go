package state

import "testing"

// A driver's multi-line connect error (pgx puts each address tried on a
// tab-indented line, often the same one twice) becomes one line without
// repeats, so that an error line or a plan note shows it whole.
func TestOneLineFoldsDriverErrors(t *testing.T) {
	in := "failed to connect to `user=u database=db`:\n\t127.0.0.1:1 (127.0.0.1): dial error: connection refused\n\t127.0.0.1:1 (127.0.0.1): dial error: connection refused"
	want := "failed to connect to `user=u database=db`: 127.0.0.1:1 (127.0.0.1): dial error: connection refused"
	if got := oneLine(in); got != want {
		t.Errorf("oneLine:\n got %q\nwant %q", got, want)
	}
}
