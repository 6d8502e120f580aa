package cli

import (
	"context"
	"log/slog"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/liveview"
)

// runView renders a run's events: JSON Lines, plain lines, or the live
// terminal view. Decided here, in one place.
type runView interface {
	Event(engine.Event)
	Close()
}

type funcView struct {
	ev    func(engine.Event)
	close func()
}

func (f funcView) Event(e engine.Event) { f.ev(e) }
func (f funcView) Close() {
	if f.close != nil {
		f.close()
	}
}

func (a *app) newRunView(output string) runView {
	// Log lines on stderr would tear the live view's frames apart, so with
	// info or debug logging the plain lines are used even on a terminal.
	if output != "json" && a.streams.OutTTY && (a.logger == nil || !a.logger.Enabled(context.Background(), slog.LevelInfo)) {
		return liveview.New(a.red.Writer(a.streams.Out), liveview.Options{Color: a.color(), Width: a.streams.Width, Redact: a.red.String})
	}
	// Lines are redacted one event at a time, then queued for the output
	// without waiting for another event's write (eventWriter).
	ew := newEventWriter(a.streams.Out)
	out := a.red.Writer(ew)
	flush := func() { _ = ew.Close() }
	if output == "json" {
		return funcView{ev: newJSONRenderer(out).Event, close: flush}
	}
	return funcView{ev: (&plainRenderer{w: out}).Event, close: flush}
}
