// Package liveview draws a run on a terminal as it happens (Bubble Tea):
// one line per step and per fan-out item, a progress line, and a final
// frame left in the scrollback. It consumes engine events and nothing else.
//
// May import: engine (the Event type). Never cli, runner or the API.
package liveview
