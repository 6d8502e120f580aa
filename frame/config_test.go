package frame_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnv(t *testing.T) {
	cfg, err := frame.ConfigFromEnv(env(map[string]string{"FRAME_CLIENT_ID": "id", "FRAME_CLIENT_SECRET": testSecret}), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseURL != frame.DefaultBaseURL || cfg.ClientID != "id" || cfg.ClientSecret != testSecret {
		t.Errorf("got %v", cfg)
	}
	cfg, err = frame.ConfigFromEnv(env(map[string]string{"FRAME_API_URL": "http://127.0.0.1:8080/v1", "FRAME_CLIENT_ID": "id", "FRAME_CLIENT_SECRET": "s"}), "", "")
	if err != nil || cfg.BaseURL != "http://127.0.0.1:8080/v1" {
		t.Errorf("FRAME_API_URL: %v %v", cfg, err)
	}
	cfg, err = frame.ConfigFromEnv(env(map[string]string{"FRAME_API_URL": "http://127.0.0.1:8080/v1", "FRAME_CLIENT_ID": "id", "FRAME_CLIENT_SECRET": "s"}), "https://example.test/v1", "")
	if err != nil || cfg.BaseURL != "https://example.test/v1" {
		t.Errorf("--api-url must win: %v %v", cfg, err)
	}
	for _, m := range []map[string]string{{}, {"FRAME_CLIENT_ID": "id"}, {"FRAME_CLIENT_SECRET": testSecret}} {
		_, err := frame.ConfigFromEnv(env(m), "", "")
		noteErr(err)
		if err == nil || !strings.Contains(err.Error(), "FRAME_CLIENT") {
			t.Errorf("%v: err = %v", m, err)
		}
	}
	_, err = frame.ConfigFromEnv(env(map[string]string{"FRAME_CLIENT_ID": "id", "FRAME_CLIENT_SECRET": "s"}), "http://api.example.com/v1", "")
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("plain http to a remote host: %v", err)
	}
}

func writeCreds(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "creds")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCredentialsFile(t *testing.T) {
	noEnv := env(map[string]string{"FRAME_CLIENT_ID": "env-id", "FRAME_CLIENT_SECRET": "env-secret"})
	cases := map[string]string{
		"json":     `{"client_id": "file-id", "client_secret": "` + testSecret + `"}`,
		"kv":       "# frame\nclient_id=file-id\nclient_secret=" + testSecret + "\n",
		"env-like": "export FRAME_CLIENT_ID=\"file-id\"\nFRAME_CLIENT_SECRET='" + testSecret + "'\n",
		"yaml":     "# frame\nclient_id: file-id\nclient_secret: \"" + testSecret + "\"\n",
	}
	for name, content := range cases {
		cfg, err := frame.ConfigFromEnv(noEnv, "", writeCreds(t, content, 0o600))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if cfg.ClientID != "file-id" || cfg.ClientSecret != testSecret {
			t.Errorf("%s: got %q / secret ok=%t", name, cfg.ClientID, cfg.ClientSecret == testSecret)
		}
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		_, err := frame.ConfigFromEnv(noEnv, "", writeCreds(t, cases["json"], mode))
		noteErr(err)
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %o: err = %v, want a chmod 600 hint", mode, err)
		}
	}
	for name, content := range map[string]string{
		"missing secret": "client_id=x\n",
		"bad json":       `{"client_id": "x", "client_secret": "` + testSecret + `"`,
		"no equals":      "client_id x\nclient_secret " + testSecret + "\n",
	} {
		_, err := frame.ConfigFromEnv(noEnv, "", writeCreds(t, content, 0o600))
		noteErr(err)
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), testSecret) {
			t.Errorf("%s: error quotes the secret", name)
		}
	}
	if _, err := frame.ConfigFromEnv(noEnv, "", filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestNewClientBaseURL(t *testing.T) {
	good := []string{"https://api.console.nutanix.com/v1", "https://example.test", "http://127.0.0.1:8080/v1", "http://127.1.2.3/v1/", "http://[::1]:9/v1", "http://localhost:1/v1", "HTTP://LOCALHOST/v1"}
	for _, u := range good {
		if _, err := frame.NewClient(frame.Config{BaseURL: u, ClientID: "id", ClientSecret: testSecret}); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	bad := []string{"http://api.console.nutanix.com/v1", "http://10.0.0.1/v1", "http://localhost.evil.com/v1", "http://[::2]/v1",
		"ftp://127.0.0.1/", "https://user:pw@example.test/v1", "https://example.test/v1?x=1", "/v1", "api.console.nutanix.com/v1"}
	for _, u := range bad {
		_, err := frame.NewClient(frame.Config{BaseURL: u, ClientID: "id", ClientSecret: testSecret})
		noteErr(err)
		if err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	if _, err := frame.NewClient(frame.Config{ClientID: "id"}); err == nil {
		t.Error("missing secret accepted")
	}
	if _, err := frame.NewClient(frame.Config{ClientSecret: "s"}); err == nil {
		t.Error("missing client id accepted")
	}
}

func TestConfigNeverPrintsSecret(t *testing.T) {
	cfg := frame.Config{BaseURL: frame.DefaultBaseURL, ClientID: "id", ClientSecret: testSecret}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "cfg", cfg)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "cfg", cfg)
	fmt.Fprintf(&buf, "%v %+v %#v %s", cfg, cfg, cfg, cfg)
	fmt.Fprintf(&buf, "%v %+v %#v", &cfg, &cfg, &cfg)
	j, _ := json.Marshal(cfg)
	buf.Write(j)
	c, err := frame.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&buf, "%v %+v %s %#v %#v", c, c, c, c, *c)
	if strings.Contains(buf.String(), testSecret) {
		t.Fatalf("secret printed: %s", buf.String())
	}
	if !strings.Contains(buf.String(), "[redacted]") {
		t.Errorf("expected a redaction marker: %s", buf.String())
	}
}
