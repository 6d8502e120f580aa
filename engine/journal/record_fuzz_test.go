package journal

import (
	"bytes"
	"testing"
)

// A journal on disk may be damaged in any way (a crash, a hand edit): the
// reader must fail cleanly, never panic, and never claim more intact bytes
// than there are.
func FuzzReadRecords(f *testing.F) {
	f.Add([]byte(`{"t":"header","time":"2026-11-24T01:30:00Z","v":1,"run_id":"x"}` + "\n"))
	f.Add([]byte(`{"t":"header","v":1}` + "\n" + `{"t":"intent","key":"a[]#1","method":"PO`))
	f.Add([]byte(`{"t":"header","v":9}` + "\n"))
	f.Add([]byte("\n\n{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, good, err := readRecords(bytes.NewReader(data))
		if err != nil {
			return
		}
		if good < 0 || good > int64(len(data)) || (good > 0 && data[good-1] != '\n') {
			t.Fatalf("intact prefix %d of %d bytes", good, len(data))
		}
		if len(recs) == 0 || recs[0].T != recHeader {
			t.Fatal("accepted a journal without a header")
		}
	})
}
