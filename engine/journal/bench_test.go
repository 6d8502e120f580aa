package journal_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/frameflow/frameflow/engine/journal"
)

// BenchmarkDoConcurrent is a rollout's shape: 500 store chains journaling
// their mutations at once (intent, send, result), with a redactor as the CLI
// always sets one. With fsync, group commit lets one sync cover the lines of
// every writer waiting on it instead of syncing each record in turn.
func BenchmarkDoConcurrent(b *testing.B) {
	const writers = 500
	for _, noSync := range []bool{false, true} {
		name := "fsync"
		if noSync {
			name = "nosync"
		}
		b.Run(name, func(b *testing.B) {
			o := testOptions()
			o.NoSync = noSync
			o.Redact = strings.NewReplacer("s3cr3t", "[redacted]", `s3cr3t\"`, "[redacted]").Replace
			s, err := journal.OpenWith(b.TempDir(), o)
			if err != nil {
				b.Fatal(err)
			}
			r, err := s.Create(journal.RunMeta{Workflow: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					m := (&mutation{}).build()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						if _, err := r.Do(ctx, fmt.Sprintf("rollout.clone[Store-%d]#1", i), m); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}
