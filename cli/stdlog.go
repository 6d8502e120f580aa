package cli

import (
	"context"
	"log"
	"log/slog"
	"strings"
)

// routeStdLog sends what the standard library logs through the global log
// package (net/http's "Unsolicited response received on idle HTTP channel",
// for one) to the command's logger at warn level, so nothing reaches stderr
// outside --log-format, and the redactor sees it too.
func routeStdLog(l *slog.Logger) {
	log.SetFlags(0)
	log.SetPrefix("")
	log.SetOutput(stdLogWriter{l})
}

type stdLogWriter struct{ l *slog.Logger }

func (w stdLogWriter) Write(p []byte) (int, error) {
	w.l.Log(context.Background(), slog.LevelWarn, strings.TrimRight(string(p), "\n"), slog.String("source", "go-stdlib"))
	return len(p), nil
}
