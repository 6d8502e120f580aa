// Package regularfile opens files a person named (a playbook, an inputs
// file, a saved plan, a credentials file) only when they are regular
// files. Opening a named pipe blocks until a writer comes, in a system call
// no signal handler can interrupt, and a device such as /dev/zero streams
// for ever: validate, apply and the credentials check each hung on one.
package regularfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// NotRegularError is a path that names something other than a regular
// file.
type NotRegularError struct {
	Mode os.FileMode
}

func (e *NotRegularError) Error() string {
	return "not a regular file (" + Kind(e.Mode) + ")"
}

// ErrChanged is a path swapped for another file between the check and the
// open.
var ErrChanged = errors.New("changed while it was being opened")

// Open opens path for reading when it is a regular file, checked before
// opening and again through the descriptor. Errors from os keep their
// identity (errors.Is(err, os.ErrNotExist)).
func Open(path string) (*os.File, os.FileInfo, error) {
	before, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, nil, &NotRegularError{Mode: before.Mode()}
	}
	// O_NONBLOCK: should the path become a named pipe between the check
	// and the open, the open still returns at once.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() || !os.SameFile(before, st) {
		f.Close()
		return nil, nil, ErrChanged
	}
	return f, st, nil
}

// Read reads a regular file: at most limit+1 bytes when limit ≥ 0, one
// past the limit so that the caller can refuse an oversized file with its
// own message; all of it when limit < 0.
func Read(path string, limit int64) ([]byte, error) {
	f, _, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if limit < 0 {
		return io.ReadAll(f)
	}
	return io.ReadAll(io.LimitReader(f, limit+1))
}

// Kind names a file mode's kind for an error message.
func Kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return fmt.Sprintf("mode %s", m)
}
