package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// blockingWriter holds its first write until released, recording every
// write it receives.
type blockingWriter struct {
	mu      sync.Mutex
	writes  []string
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	first := false
	b.once.Do(func() { first = true })
	if first {
		close(b.entered)
		<-b.release
	}
	b.mu.Lock()
	b.writes = append(b.writes, string(p))
	b.mu.Unlock()
	return len(p), nil
}

func TestEventWriterDoesNotWaitForAnotherWrite(t *testing.T) {
	bw := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	ew := newEventWriter(bw)
	go func() { _, _ = ew.Write([]byte("first\n")) }()
	<-bw.entered // the first write is under way and stuck
	done := make(chan struct{})
	go func() {
		for i := 0; i < 3; i++ {
			_, _ = fmt.Fprintf(ew, "queued %d\n", i)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a Write waited for another event's write")
	}
	close(bw.release)
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	// The stuck write's goroutine wrote the queued lines after its own, in
	// one more write, in order.
	want := []string{"first\n", "queued 0\nqueued 1\nqueued 2\n"}
	if fmt.Sprint(bw.writes) != fmt.Sprint(want) {
		t.Fatalf("writes = %q, want %q", bw.writes, want)
	}
}

func TestEventWriterKeepsEveryLineWholeAndInOrder(t *testing.T) {
	var out bytes.Buffer
	ew := newEventWriter(&out)
	const writers, lines = 8, 500
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < lines; i++ {
				if w%2 == 0 {
					_, _ = fmt.Fprintf(ew, "writer %d line %d\n", w, i)
				} else {
					// What the redacting writer above it calls.
					_, _ = io.WriteString(ew, fmt.Sprintf("writer %d line %d\n", w, i))
				}
			}
		}()
	}
	wg.Wait()
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, writers)
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines, want %d", len(got), writers*lines)
	}
	for _, l := range got {
		var w, i int
		if _, err := fmt.Sscanf(l, "writer %d line %d", &w, &i); err != nil {
			t.Fatalf("torn line %q: %v", l, err)
		}
		if i != next[w] {
			t.Fatalf("writer %d: line %d after %d", w, i, next[w]-1)
		}
		next[w]++
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("pipe closed") }

func TestEventWriterReportsAFailedWrite(t *testing.T) {
	ew := newEventWriter(failingWriter{})
	_, _ = ew.Write([]byte("a\n"))
	if _, err := ew.Write([]byte("b\n")); err == nil {
		t.Fatal("a write after a failed one succeeded")
	}
	if err := ew.Close(); err == nil || !strings.Contains(err.Error(), "pipe closed") {
		t.Fatalf("Close = %v, want the write's error", err)
	}
}
