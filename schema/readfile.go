package schema

import "github.com/frameflow/frameflow/internal/regularfile"

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
	return regularfile.Read(path, maxBytes)
}
