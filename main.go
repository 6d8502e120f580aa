// Command frameflow runs declarative YAML workflows against the Nutanix Frame
// Admin API. Everything lives in package cli; main only wires the process.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"runtime/trace"

	"github.com/frameflow/frameflow/cli"
)

func main() {
	// Diagnostics for `frameflow bench` (--cpuprofile, --memprofile,
	// --trace): the runner is a child process there, so a test's profile
	// flags cannot see it. Unset, they cost nothing.
	stopCPU := startDiagnostic("FRAMEFLOW_CPUPROFILE", pprof.StartCPUProfile, func(io.Writer) { pprof.StopCPUProfile() })
	stopTrace := startDiagnostic("FRAMEFLOW_TRACE", trace.Start, func(io.Writer) { trace.Stop() })
	stopAllocs := startDiagnostic("FRAMEFLOW_MEMPROFILE", func(io.Writer) error { return nil },
		func(w io.Writer) { _ = pprof.Lookup("allocs").WriteTo(w, 0) })
	code := cli.Main(os.Args[1:], cli.StdStreams())
	stopAllocs()
	stopTrace()
	stopCPU()
	os.Exit(code)
}

// startDiagnostic starts a profile or trace into the file the environment
// variable env names; the returned func finishes and closes it.
func startDiagnostic(env string, start func(io.Writer) error, stop func(io.Writer)) func() {
	path := os.Getenv(env)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		if err = start(f); err != nil {
			f.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", env, err)
		return func() {}
	}
	return func() {
		stop(f)
		f.Close()
	}
}
