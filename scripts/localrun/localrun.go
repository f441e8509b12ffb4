// Package localrun runs the whole Sluice pipeline on one machine: it builds
// the service binaries, starts them as local SQS pollers against the
// emulators of package devstack, and reads back what they did (run records,
// S3 objects). The demo, the end-to-end tests and the chaos rig share it,
// so all of them exercise the same binaries a container would run.
//
// The scheduler starts with its sweep on (SLUICE_SWEEP_EVERY, default 1m;
// it takes up runs whose worker died and reconciles the DLQs): pass
// SLUICE_SWEEP_EVERY=2s (and a short SLUICE_SWEEP_GRACE, SLUICE_LEASE) in
// Pipeline.Env or Start's extra environment for a quick one, or
// SLUICE_SWEEP_EVERY=0 to turn it off. Resources.ServiceEnv gives it the
// DLQ URLs it reconciles.
package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluice-data/sluice/shared/devstack"
)

// Services in pipeline order, with the queue each consumes.
var Services = []struct{ Name, Queue string }{
	{"scheduler", devstack.Triggers},
	{"dedupe", devstack.Inputs},
	{"fetcher", devstack.Fetch},
	{"writer", devstack.Batches},
}

// Build compiles the four services and sluicectl into dir.
func Build(ctx context.Context, root, dir string) error {
	pkgs := []string{"./services/sluicectl"}
	for _, s := range Services {
		pkgs = append(pkgs, "./services/"+s.Name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out.String())
	}
	return nil
}

// Pipeline is one local deployment: binaries, resources and settings.
type Pipeline struct {
	Bin       string             // directory with the built binaries
	LogDir    string             // each service logs to <LogDir>/<service>.log
	Endpoints devstack.Endpoints // the emulators
	Resources devstack.Resources
	// PipelineFile is the pipeline config every service loads.
	PipelineFile string
	// Env is added to every service's environment after the defaults, so
	// it can override them (e.g. SLUICE_LEASE=5s).
	Env []string
	// Setpgid starts each service in a process group of its own (led by
	// the service, its id the service's pid), so that a Ctrl-C at the
	// terminal reaches only the caller, which stops the services itself,
	// and whatever a service started can be signalled with it.
	Setpgid bool

	mu    sync.Mutex
	procs []*Proc
}

// BaseEnv is the environment of a process that talks to the deployment,
// such as sluicectl: AWS settings and resource names.
func (p *Pipeline) BaseEnv() []string {
	env := append(os.Environ(), devstack.Env(p.Endpoints)...)
	return append(env, p.Resources.Env()...)
}

// ServiceEnv is the environment of the named service.
func (p *Pipeline) ServiceEnv(name string) []string {
	queue := ""
	for _, s := range Services {
		if s.Name == name {
			queue = s.Queue
		}
	}
	env := append(os.Environ(), devstack.Env(p.Endpoints)...)
	env = append(env, p.Resources.ServiceEnv(queue)...)
	env = append(env,
		"SLUICE_TRANSPORT=poll",
		"SLUICE_PIPELINE_FILE="+p.PipelineFile,
		"SLUICE_POLL_WAIT=1s", // quick shutdown
		"SLUICE_RETRY_BASE=1s",
		"SLUICE_RETRY_MAX=2s",
		"SLUICE_SHUTDOWN_GRACE=10s",
	)
	return append(env, p.Env...)
}

// Proc is one running service.
type Proc struct {
	Name   string
	cmd    *exec.Cmd
	done   chan struct{}
	err    error
	log    *os.File
	killed atomic.Bool
}

// Start starts the named service with extra environment on top of its own.
func (p *Pipeline) Start(name string, extra ...string) (*Proc, error) {
	if err := os.MkdirAll(p.LogDir, 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(p.LogDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(p.Bin, name))
	cmd.Env = append(p.ServiceEnv(name), extra...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if p.Setpgid {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	proc := &Proc{Name: name, cmd: cmd, done: make(chan struct{}), log: logf}
	go func() {
		proc.err = cmd.Wait()
		logf.Close()
		close(proc.done)
	}()
	p.mu.Lock()
	p.procs = append(p.procs, proc)
	p.mu.Unlock()
	return proc, nil
}

// StartAll starts the four services.
func (p *Pipeline) StartAll() error {
	for _, s := range Services {
		if _, err := p.Start(s.Name); err != nil {
			p.StopAll()
			return err
		}
	}
	return nil
}

// Procs returns the services this Pipeline started and has not stopped.
func (p *Pipeline) Procs() []*Proc {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.procs)
}

// StopAll stops every service this Pipeline started, gracefully, and
// returns the errors of any that did not exit cleanly.
func (p *Pipeline) StopAll() error {
	p.mu.Lock()
	procs := p.procs
	p.procs = nil
	p.mu.Unlock()
	var errs []error
	for _, proc := range procs {
		if err := proc.Stop(15 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Pid is the service's process id (with Pipeline.Setpgid, also its
// process group's).
func (proc *Proc) Pid() int { return proc.cmd.Process.Pid }

// Signal sends sig to the service.
func (proc *Proc) Signal(sig syscall.Signal) error { return proc.cmd.Process.Signal(sig) }

// Kill ends the service at once (SIGKILL), as a crash or a Lambda freeze
// would, and waits until it is gone.
func (proc *Proc) Kill() {
	proc.killed.Store(true)
	_ = proc.cmd.Process.Kill()
	<-proc.done
}

// Exited reports whether the service has exited.
func (proc *Proc) Exited() bool {
	select {
	case <-proc.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits up to timeout for a clean exit, then kills.
// A service that was killed on purpose (Kill) before is not an error.
func (proc *Proc) Stop(timeout time.Duration) error {
	if proc.killed.Load() {
		return nil
	}
	_ = proc.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-proc.done:
		if proc.err != nil {
			return fmt.Errorf("%s exited: %w", proc.Name, proc.err)
		}
		return nil
	case <-time.After(timeout):
		_ = proc.cmd.Process.Kill()
		<-proc.done
		return fmt.Errorf("%s did not stop within %v after SIGTERM; killed", proc.Name, timeout)
	}
}

// Ctl runs sluicectl with args and returns its output. sluicectl also
// gets the pipeline file, which backfill reads.
func (p *Pipeline) Ctl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(p.Bin, "sluicectl"), args...)
	cmd.Env = append(p.BaseEnv(), "SLUICE_PIPELINE_FILE="+p.PipelineFile)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("sluicectl %v: %w: %s", args, err, out.String())
	}
	return out.String(), nil
}

// Logs returns the log output of the named service so far.
func (p *Pipeline) Logs(name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(p.LogDir, name+".log"))
	return string(b), err
}

// AWSRequests sums the "aws requests" lines the services log when they
// stop (see service.App.Close): requests by "Service.Operation", over
// every service whose log has one.
func (p *Pipeline) AWSRequests() (map[string]int64, error) { return p.AWSCounts("requests") }

// AWSCounts sums one field of the services' "aws requests" lines —
// "requests", "sqs_billed" (SQS requests as billed) or
// "sqs_payload_bytes" — over the named services (all when none is named)
// whose log has one.
func (p *Pipeline) AWSCounts(field string, services ...string) (map[string]int64, error) {
	total := map[string]int64{}
	for _, svc := range Services {
		if len(services) > 0 && !slices.Contains(services, svc.Name) {
			continue
		}
		logs, err := p.Logs(svc.Name)
		if errors.Is(err, os.ErrNotExist) {
			continue // not started by this Pipeline
		}
		if err != nil {
			return nil, err
		}
		for line := range strings.Lines(logs) {
			var entry map[string]json.RawMessage
			var msg string
			if json.Unmarshal([]byte(line), &entry) != nil || json.Unmarshal(entry["msg"], &msg) != nil || msg != "aws requests" {
				continue
			}
			var counts map[string]int64
			if raw, ok := entry[field]; !ok || json.Unmarshal(raw, &counts) != nil {
				continue
			}
			for k, n := range counts {
				total[k] += n
			}
		}
	}
	return total, nil
}
