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
	out := a.red.Writer(a.streams.Out)
	if output == "json" {
		return funcView{ev: newJSONRenderer(out).Event}
	}
	// Log lines on stderr would tear the live view's frames apart, so with
	// info or debug logging the plain lines are used even on a terminal.
	if a.streams.OutTTY && (a.logger == nil || !a.logger.Enabled(context.Background(), slog.LevelInfo)) {
		return liveview.New(out, liveview.Options{Color: a.color(), Width: a.streams.Width, Redact: a.red.String})
	}
	return funcView{ev: (&plainRenderer{w: out}).Event}
}
