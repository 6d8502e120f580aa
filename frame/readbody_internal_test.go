package frame

import (
	"strings"
	"testing"
)

// readBody returns the whole body whatever length the server announced,
// and one byte past the limit of a body that is too long.
func TestReadBody(t *testing.T) {
	body := strings.Repeat("x", 3000)
	for _, announced := range []int64{-1, 0, 10, 3000, 5000, maxResponseBytes + 1} {
		got, err := readBody(strings.NewReader(body), announced)
		if err != nil || string(got) != body {
			t.Errorf("announced %d: %d bytes, %v; want the %d-byte body", announced, len(got), err, len(body))
		}
	}
	huge := strings.NewReader(strings.Repeat("y", maxResponseBytes+10))
	if got, err := readBody(huge, 100); err != nil || len(got) != maxResponseBytes+1 {
		t.Errorf("a body over the limit: %d bytes, %v; want limit+1", len(got), err)
	}
}
