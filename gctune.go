package main

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// A large rollout allocates a few hundred bytes per request against a live
// heap that starts near zero, so the default GOGC=100 collects every few
// megabytes early in the run: about a fifth of the runner's CPU went to
// the garbage collector at 2,000 stores (BENCHMARKS.md, issue 16). A run
// therefore collects when the heap has grown by tunedGCPercent, bounded
// by a soft memory limit that keeps peak memory near today's. Where the
// live heap is so large that the limit would make collections more
// frequent than the default would (live heap above half the limit), the
// runtime's defaults come back for the rest of the process. A user's own
// GOGC or GOMEMLIMIT always wins: then nothing here applies.
const (
	tunedGCPercent   = 400
	tunedMemoryLimit = 150 << 20 // bytes; peak RSS stays under the 200 MB target
)

// benchGCPercent is the collection setting of `frameflow bench`'s own
// process (the harness and the simulator it hosts; the runner it starts
// is tuned as any run). Its live heap stays under ~20 MB, and GOGC=100
// collected ~20 times per 2,000-store run, ~0.2 s of the two cores the
// runner shares with it. Its memory is no target (the runner's is), so
// no limit. BENCHMARKS.md reports simulator CPU with this from issue 16's
// third round on.
const benchGCPercent = 400

// tuneGC applies the setting for commands that run workflows. `sim` (a
// simulator on its own, long-running) keeps the runtime's defaults.
func tuneGC(args []string) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return
	}
	switch firstCommand(args) {
	case "sim":
		return
	case "bench":
		debug.SetGCPercent(benchGCPercent)
		return
	}
	debug.SetGCPercent(tunedGCPercent)
	debug.SetMemoryLimit(tunedMemoryLimit)
	watchLiveHeap(tunedMemoryLimit / 2)
}

// firstCommand is the first argument that is not a flag.
func firstCommand(args []string) string {
	for _, a := range args {
		if len(a) > 0 && a[0] != '-' {
			return a
		}
	}
	return ""
}

// untuneGC restores the runtime's defaults: GOGC=100, no memory limit.
func untuneGC() {
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
}

// watchLiveHeap checks the live heap after every collection (a finalizer
// that re-arms itself runs once per cycle) and restores the defaults once
// it exceeds limit, and then stops watching.
func watchLiveHeap(limit uint64) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	type sentinel struct{ _ [16]byte } // not tiny-allocated: its finalizer runs
	var arm func()
	arm = func() {
		s := new(sentinel)
		runtime.SetFinalizer(s, func(*sentinel) {
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > limit {
				untuneGC()
				return
			}
			arm()
		})
	}
	arm()
}
