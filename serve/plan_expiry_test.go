package serve

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/internal/pgtest"
	"github.com/frameflow/frameflow/state"
)

// stateStore is a state backend as the page's Store, its locks this
// process's (the test needs only the documents).
type stateStore struct {
	state.Backend
	locks *memoryStore
}

func (s stateStore) Lock(ctx context.Context, name string) (func(), error) {
	return s.locks.Lock(ctx, name)
}

// Plans made in the page are deleted from the state backend once they
// expire, on the local directory and on PostgreSQL (FRAMEFLOW_REQUIRE_POSTGRES
// makes a missing server a failure): a younger plan stays, and the expired
// one's page says it is unknown or expired.
func TestExpiredPlansAreDeletedFromTheBackend(t *testing.T) {
	backends := map[string]func(t *testing.T) (state.Backend, func(id string) bool){
		"local": func(t *testing.T) (state.Backend, func(string) bool) {
			dir := t.TempDir()
			b, err := state.OpenLocal(dir, true)
			if err != nil {
				t.Fatal(err)
			}
			return b, func(id string) bool {
				_, err := os.Stat(filepath.Join(dir, "serve", "plans", id+".json"))
				return err == nil
			}
		},
		"postgres": func(t *testing.T) (state.Backend, func(string) bool) {
			b, err := state.Open(t.Context(), pgtest.DSN(t), state.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b.Close() })
			return b, func(id string) bool {
				body, err := b.Get(context.Background(), planDoc(id))
				if err != nil {
					t.Fatal(err)
				}
				return body != nil
			}
		},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			b, stored := open(t)
			const ttl = 800 * time.Millisecond
			_, _, ts := newTestServer(t, Options{Store: stateStore{b, newMemoryStore()}, PlanTTL: ttl})
			c := client(t)
			first := planOnce(t, c, ts.URL, url.Values{"in.count": {"3"}})
			firstID := strings.TrimPrefix(first, "/plans/")
			if !stored(firstID) {
				t.Fatalf("plan %s is not in the backend", firstID)
			}
			time.Sleep(ttl / 2)
			second := strings.TrimPrefix(planOnce(t, c, ts.URL, url.Values{"in.count": {"4"}}), "/plans/")
			deadline := time.Now().Add(ttl * 3)
			for stored(firstID) {
				if time.Now().After(deadline) {
					t.Fatalf("plan %s is still in the backend %s after it expired", firstID, 3*ttl)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if !stored(second) {
				t.Fatalf("plan %s, not yet expired, was deleted with the expired one", second)
			}
			resp, err := c.Get(ts.URL + first)
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(page), "unknown or expired") {
				t.Fatalf("the deleted plan's page: %d\n%s", resp.StatusCode, page)
			}
		})
	}
}
