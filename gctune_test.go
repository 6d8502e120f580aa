package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// restoreGC puts the runtime's settings back after a test changed them.
func restoreGC(t *testing.T) {
	t.Cleanup(func() {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
	})
}

func TestTuneGCLeavesTheUsersSettingsAlone(t *testing.T) {
	restoreGC(t)
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "off")
			debug.SetGCPercent(100)
			tuneGC([]string{"run", "x.yaml"})
			if got := debug.SetGCPercent(100); got != 100 {
				t.Fatalf("with %s set, GC percent = %d, want the runtime's 100", env, got)
			}
		})
	}
}

func TestTuneGCOnlyForTheRunner(t *testing.T) {
	restoreGC(t)
	cases := map[string]int{"run": tunedGCPercent, "apply": tunedGCPercent, "bench": benchGCPercent, "sim": 100}
	for cmd, want := range cases {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
		tuneGC([]string{"--log-format", cmd})
		if got := debug.SetGCPercent(100); got != want {
			t.Errorf("frameflow %s: GC percent %d, want %d", cmd, got, want)
		}
		limit := debug.SetMemoryLimit(-1)
		if cmd == "run" || cmd == "apply" {
			if limit != tunedMemoryLimit {
				t.Errorf("frameflow %s: memory limit %d", cmd, limit)
			}
		} else if limit != math.MaxInt64 {
			t.Errorf("frameflow %s: memory limit %d", cmd, limit)
		}
	}
}

func TestALiveHeapOverTheBoundRestoresTheDefaults(t *testing.T) {
	restoreGC(t)
	debug.SetGCPercent(tunedGCPercent)
	debug.SetMemoryLimit(tunedMemoryLimit)
	watchLiveHeap(1) // any live heap is over one byte
	deadline := time.Now().Add(10 * time.Second)
	gogc := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	for metrics.Read(gogc); gogc[0].Value.Uint64() != 100; metrics.Read(gogc) {
		if time.Now().After(deadline) {
			t.Fatal("GC percent still tuned after collections with a live heap over the bound")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 {
		t.Fatalf("memory limit %d after the live heap passed the bound, want none", limit)
	}
}
