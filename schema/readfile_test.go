package schema_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/frameflow/frameflow/schema"
)

// within fails the test when f does not return in time: the bug was a
// read that never returned.
func within[T any](t *testing.T, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("still reading after 10 s")
		panic("unreachable")
	}
}

// A playbook that is a named pipe, a device or a directory, called or
// given directly, is refused at once (it hung: a pipe's open blocks until
// a writer comes, /dev/zero never ends).
func TestNonRegularPlaybooksAreRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "dir.yaml"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"fifo.yaml": "a named pipe", "zero.yaml": "a character device", "dir.yaml": "a directory"} {
		path := filepath.Join(dir, name)
		if err := within(t, func() error { _, err := schema.ReadSource(path); return err }); err == nil || !strings.Contains(err.Error(), "not a regular file ("+want+")") {
			t.Errorf("ReadSource(%s) = %v, want not a regular file (%s)", name, err, want)
		}
		diags := within(t, func() schema.Diagnostics { _, d := schema.LoadFile(path, schema.LoadOptions{}); return d })
		if len(diags) != 1 || !strings.Contains(diags[0].String(), path+":1:1: cannot read the workflow file: not a regular file") {
			t.Errorf("LoadFile(%s): %v", name, diags)
		}
		caller := filepath.Join(dir, "call-"+strings.TrimSuffix(name, ".yaml")+".yaml")
		src := "version: 1\nname: caller\nsteps:\n  - id: s\n    uses: ./" + name + "\n"
		if err := os.WriteFile(caller, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		diags = within(t, func() schema.Diagnostics { _, d := schema.LoadFile(caller, schema.LoadOptions{}); return d })
		if len(diags) != 1 || !strings.HasPrefix(diags[0].String(), caller+":5:11: ") || !strings.Contains(diags[0].Message, "not a regular file ("+want+")") {
			t.Errorf("a playbook calling %s: %v", name, diags)
		}
	}
}
