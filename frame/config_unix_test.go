//go:build unix

package frame_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame"
)

// A FIFO, a directory or a device given as --credentials is refused at
// once: opening a FIFO would block in a system call until a writer came.
func TestCredentialsFileMustBeRegularAndIsNeverWaitedOn(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "creds")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := frame.ConfigFromEnv(nil, "", fifo)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is not a regular file (a named pipe)") {
			t.Fatalf("FIFO: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reading a FIFO as the credentials file blocked")
	}
	if _, err := frame.ConfigFromEnv(nil, "", dir); err == nil || !strings.Contains(err.Error(), "(a directory)") {
		t.Fatalf("directory: %v", err)
	}
	if _, err := frame.ConfigFromEnv(nil, "", "/dev/zero"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("/dev/zero: %v", err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte("client_id=a\nclient_secret=b\n"+strings.Repeat("#", 70<<10)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := frame.ConfigFromEnv(nil, "", big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("big file: %v", err)
	}
}
