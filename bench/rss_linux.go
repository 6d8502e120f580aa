package bench

import (
	"os"
	"syscall"
)

// peakRSS is the child's peak resident set (VmHWM) as the kernel accounts
// it in getrusage(2) after wait: ru_maxrss, in KiB on Linux.
func peakRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024
	}
	return 0
}
