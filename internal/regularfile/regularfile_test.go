package regularfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/frameflow/frameflow/internal/regularfile"
)

func TestReadRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{fifo: "a named pipe", dir: "a directory", "/dev/zero": "a character device"} {
		_, err := regularfile.Read(path, 10)
		var nr *regularfile.NotRegularError
		if !errors.As(err, &nr) || err.Error() != "not a regular file ("+want+")" {
			t.Errorf("Read(%s) = %v, want not a regular file (%s)", path, err, want)
		}
	}
	if _, err := regularfile.Read(filepath.Join(dir, "missing"), 10); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v, want os.ErrNotExist", err)
	}
}

func TestReadStopsOnePastTheLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte(strings.Repeat("x", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	for limit, want := range map[int64]int{10: 11, 100: 100, -1: 100} {
		if b, err := regularfile.Read(path, limit); err != nil || len(b) != want {
			t.Errorf("Read(limit %d) = %d bytes, %v; want %d", limit, len(b), err, want)
		}
	}
}
