//go:build !linux

package pack

import "time"

// threadCPU is unknown here: no cpu-MB/s is reported.
func threadCPU() time.Duration { return 0 }
