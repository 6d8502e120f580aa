// Command frameflow runs declarative YAML workflows against the Nutanix Frame
// Admin API. Everything lives in package cli; main only wires the process.
package main

import (
	"os"

	"github.com/frameflow/frameflow/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.StdStreams()))
}
