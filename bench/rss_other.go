//go:build !linux

package bench

import (
	"os"
	"time"
)

// peakRSS is not measured off Linux (ru_maxrss units differ by system);
// the figure reads 0.
func peakRSS(*os.ProcessState) int64 { return 0 }

// selfCPU is not measured off Linux.
func selfCPU() time.Duration { return 0 }

func loadAverage() float64 { return 0 }
