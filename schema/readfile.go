package schema

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// ReadSource reads a playbook (or an inputs file) a person named, which
// must be a regular file: anything else is refused before it is read, as
// opening a named pipe blocks until a writer comes and a device such as
// /dev/zero streams for ever (validate hung on `uses: ./z.yaml` linked to
// either). It reads at most DefaultMaxBytes+1 bytes: one past the limit,
// so that Load refuses an oversized file with its own message.
func ReadSource(path string) ([]byte, error) {
	return readSource(path, DefaultMaxBytes)
}

func readSource(path string, maxBytes int64) ([]byte, error) {
	before, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", describeMode(before.Mode()))
	}
	// O_NONBLOCK: should the path become a named pipe between the check
	// and the open, the open still returns at once; the descriptor is
	// checked again below.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", describeMode(st.Mode()))
	}
	return io.ReadAll(io.LimitReader(f, maxBytes+1))
}

func describeMode(m os.FileMode) string {
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
	return "mode " + m.String()
}
