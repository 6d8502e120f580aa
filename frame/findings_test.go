package frame_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame"
)

type memDocs map[string][]byte

func (m memDocs) Get(_ context.Context, name string) ([]byte, error) { return m[name], nil }
func (m memDocs) Put(_ context.Context, name string, b []byte) error {
	m[name] = b
	return nil
}

// Findings are found by API URL (trailing slash aside) and credential;
// the old local file is read only when the backend has none, and says so.
func TestFindingsByURLAndCredential(t *testing.T) {
	ctx := context.Background()
	docs := memDocs{}
	a, b := frame.CredentialID("client-a"), frame.CredentialID("client-b")
	if a == b || a == "" || frame.CredentialID(" client-a ") != a {
		t.Fatalf("credential ids %q %q", a, b)
	}
	f := &frame.Findings{APIURL: "https://api.example/v1/", CredentialID: a, CheckedAt: time.Now().UTC(),
		AuditTrailsReadable: true, AuditKinds: map[string][]string{"clone": {"cloneSandbox"}}}
	name, err := frame.SaveFindings(ctx, docs, f)
	if err != nil || name != frame.FindingsDocument("https://api.example/v1", a) {
		t.Fatalf("save: %q %v", name, err)
	}
	if _, err := frame.SaveFindings(ctx, docs, &frame.Findings{APIURL: "https://api.example/v1"}); err == nil {
		t.Error("findings without a credential id were stored")
	}
	got, err := frame.LoadFindings(ctx, docs, "", "https://api.example/v1", a)
	if err != nil || got.ConfirmedAuditKinds("clone") == nil || got.LegacyFile != "" {
		t.Fatalf("load: %+v %v", got, err)
	}
	for _, miss := range [][2]string{{"https://api.example/v1", b}, {"https://other.example/v1", a}} {
		if got, err := frame.LoadFindings(ctx, docs, "", miss[0], miss[1]); got != nil || err != nil {
			t.Errorf("%v: %+v %v", miss, got, err)
		}
	}
	// A document under the right name that claims another URL or
	// credential is not trusted.
	docs[frame.FindingsDocument("https://x.example/v1", b)] = docs[name]
	if got, _ := frame.LoadFindings(ctx, docs, "", "https://x.example/v1", b); got != nil {
		t.Errorf("a document naming another estate was used: %+v", got)
	}

	dir := t.TempDir()
	legacy := `{"api_url":"https://api.example/v1","audit_trails_readable":true,"audit_kinds":{"clone":["old"]}}`
	if err := os.WriteFile(filepath.Join(dir, frame.FindingsFile), []byte(legacy), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := frame.LoadFindings(ctx, docs, dir, "https://api.example/v1", a); got.ConfirmedAuditKinds("clone")[0] != "cloneSandbox" {
		t.Errorf("the backend's findings must win over the old file: %+v", got)
	}
	got, err = frame.LoadFindings(ctx, docs, dir, "https://api.example/v1", b)
	if err != nil || got == nil || got.ConfirmedAuditKinds("clone")[0] != "old" || got.LegacyFile != filepath.Join(dir, frame.FindingsFile) {
		t.Errorf("old file: %+v %v", got, err)
	}
	if got, _ := frame.LoadFindings(ctx, docs, dir, "https://other.example/v1", b); got != nil {
		t.Errorf("old file for another URL: %+v", got)
	}
}
