package localrun

import (
	"syscall"
	"time"
)

// Usage is what a service process used over its whole life, as the kernel
// accounts it (getrusage of the child).
type Usage struct {
	PeakRSS int64         // bytes: the largest resident set (VmHWM)
	CPU     time.Duration // user + system
}

// Usage returns the service's usage once it has exited; false while it
// runs (or where the platform does not report it).
func (proc *Proc) Usage() (Usage, bool) {
	if !proc.Exited() || proc.cmd.ProcessState == nil {
		return Usage{}, false
	}
	ru, ok := proc.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return Usage{}, false
	}
	return Usage{
		PeakRSS: ru.Maxrss << 10, // KiB on Linux
		CPU:     time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
	}, true
}
