package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// What a lookup for another process's same request costs the local backend
// in a state directory with a long history: 1,000 runs of last month, and
// one other run today. It reads today's activity log and that run's
// journal, new lines only.
func BenchmarkFileLedgerLookup(b *testing.B) {
	dir := b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "activity"), 0o700); err != nil {
		b.Fatal(err)
	}
	var old []byte
	for i := range 1000 {
		id := fmt.Sprintf("20261001T0000%02dZ-%04x", i%60, i)
		if err := os.WriteFile(filepath.Join(dir, id+".jsonl"), []byte(`{"t":"header"}`+"\n"), 0o600); err != nil {
			b.Fatal(err)
		}
		old = append(old, id+"\n"...)
	}
	if err := os.WriteFile(filepath.Join(dir, "activity", activityDay(time.Now().Add(-30*24*time.Hour))+".log"), old, 0o600); err != nil {
		b.Fatal(err)
	}
	other := "20261130T000000Z-beef"
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if err := os.WriteFile(filepath.Join(dir, other+".jsonl"), []byte(`{"t":"header"}`+"\n"+`{"t":"attempt","time":"`+now+`","attempt":1}`+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "activity", activityDay(time.Now())+".log"), []byte(other+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	l := &fileLedger{}
	mine := []Interval{{Start: time.Now()}}
	b.ResetTimer()
	for range b.N {
		if _, _, _, _, err := l.lookup(dir, "self", "identity", mine); err != nil {
			b.Fatal(err)
		}
	}
}
