// Package profiling writes pprof profiles of a whole process run, for
// finding where a service spends its time under a load such as the
// pipeline benchmark. It is off unless asked for: a service profiles only
// when SLUICE_PPROF_DIR names a directory (see service.Main).
package profiling

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// EnvDir is the variable that turns profiling on: the directory the
// profiles are written to.
const EnvDir = "SLUICE_PPROF_DIR"

// Start starts a CPU profile of the process, to dir/<name>-<pid>.cpu.pprof.
// The returned stop ends it and writes the allocations made so far to
// dir/<name>-<pid>.allocs.pprof (`go tool pprof -sample_index=alloc_space`).
// With dir empty, Start does nothing and stop returns nil.
func Start(dir, name string) (stop func() error, err error) {
	if dir == "" {
		return func() error { return nil }, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("profiling: %w", err)
	}
	base := filepath.Join(dir, fmt.Sprintf("%s-%d", name, os.Getpid()))
	cpu, err := os.Create(base + ".cpu.pprof")
	if err != nil {
		return nil, fmt.Errorf("profiling: %w", err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		cpu.Close()
		return nil, fmt.Errorf("profiling: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		errs := []error{cpu.Close()}
		allocs, err := os.Create(base + ".allocs.pprof")
		if err == nil {
			errs = append(errs, pprof.Lookup("allocs").WriteTo(allocs, 0), allocs.Close())
		} else {
			errs = append(errs, err)
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("profiling: %w", err)
		}
		return nil
	}, nil
}
