// Package bench measures frameflow against the limits the Frame API itself
// sets: the rollout benchmark (wall time next to the critical-path limit,
// requests per account, polls per task, peak memory), Go benchmarks of the
// engine's own overhead, and the chaos suite (in its tests).
//
// The rollout runs the real frameflow binary as a child process against a
// simulator inside this process, so that the child's peak RSS is the
// runner's alone (the simulator's estate and request log are not counted)
// and every request crosses a real loopback socket.
//
// May import: engine, frame/sim and workflows (and what they import). It is
// linked into the binary for `frameflow bench`, so it never imports cli or
// runner.
package bench
