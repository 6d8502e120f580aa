package journal_test

import (
	"context"
	"strings"
	"testing"
)

// A key stands for one request. On a resume whose step asks, under a key
// with a recorded result, for another body (the workflow was changed and
// the resume forced), the recorded answer is not handed back as if it
// were this request's, and nothing is sent: the step would otherwise
// succeed with an effect it did not ask for.
func TestSameKeyWithAnotherBodyIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, testOptions())
	r := create(t, s)
	const key = "capacity[store-1]#1"
	first := &mutation{}
	if _, err := r.Do(context.Background(), key, first.build()); err != nil {
		t.Fatal(err)
	}
	_ = r.Close()

	r2 := resume(t, s, r.ID())
	same := &mutation{}
	if res, err := r2.Do(context.Background(), key, same.build()); err != nil || res.(map[string]any)["id"] != "task-1" || same.sends.Load() != 0 {
		t.Fatalf("the same request: %v, %v, %d sends; want the recorded task-1 and no send", res, err, same.sends.Load())
	}
	other := &mutation{}
	m := other.build()
	m.Body = map[string]any{"target_account_id": "store-2"}
	_, err := r2.Do(context.Background(), key, m)
	if err == nil || !strings.Contains(err.Error(), "with another query or body than it has now") || other.sends.Load() != 0 {
		t.Fatalf("another body under the same key: %v, %d sends; want refused, none sent", err, other.sends.Load())
	}
}
