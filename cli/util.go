package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/frameflow/frameflow/engine/journal"
)

// fileHash is the workflow hash as the loader computes it.
func fileHash(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func attemptsString(r journal.RunSummary) string {
	if len(r.Attempts) <= 1 {
		return fmt.Sprint(len(r.Attempts))
	}
	var parts []string
	for _, at := range r.Attempts {
		parts = append(parts, at.Status)
	}
	return fmt.Sprintf("%d (%s)", len(r.Attempts), strings.Join(parts, ", "))
}
