package cli

import (
	"fmt"
	"strings"

	"github.com/frameflow/frameflow/engine/journal"
)

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
