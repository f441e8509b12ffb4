package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// RIEPath is where `scripts/stack.sh install rie` puts AWS's Lambda
// Runtime Interface Emulator under the repository root.
func RIEPath(root string) string { return filepath.Join(root, ".local", "bin", "aws-lambda-rie") }

// InstallRIE installs the pinned aws-lambda-rie if it is not there yet
// (scripts/stack.sh install rie; a no-op when it is).
func InstallRIE(ctx context.Context, root string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "stack.sh"), "install", "rie")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("scripts/stack.sh install rie: %w\n%s", err, out.String())
	}
	return nil
}

// BuildBootstraps compiles the four services into dir as Lambda would run
// them — the flags of `make lambda-zips` (-tags lambda.norpc, static,
// trimmed, stripped) — but for this machine's architecture, so that they
// run under the emulator here. Each binary is named for its service.
func BuildBootstraps(ctx context.Context, root, dir string) error {
	pkgs := make([]string, 0, len(Services))
	for _, s := range Services {
		pkgs = append(pkgs, "./services/"+s.Name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	args := append([]string{"build", "-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", dir + string(filepath.Separator)}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build (lambda bootstraps): %w\n%s", err, out.String())
	}
	return nil
}

// Function is one service's Lambda bootstrap running under aws-lambda-rie:
// the emulator starts the bootstrap on the first invocation (its init),
// hands it one invocation at a time through its own Runtime API, stops it
// at AWS_LAMBDA_FUNCTION_TIMEOUT, and starts a new one after a timeout or
// a crash, as Lambda does.
//
// The emulator takes one invocation at a time, and one sent meanwhile
// crashes it (a nil dereference in its rapidcore.Server.Invoke, leaving
// the bootstrap orphaned), so Invoke sends one at a time.
type Function struct {
	Name       string
	addr       string // the emulator's invoke endpoint
	runtimeAPI string // the Runtime API it serves the bootstrap
	timeout    time.Duration
	cmd        *exec.Cmd
	done       chan struct{}
	log        *os.File
	invoking   sync.Mutex
	stop       sync.Once
}

// FunctionSetup says how to run one service under the emulator.
type FunctionSetup struct {
	RIE       string        // the aws-lambda-rie binary
	Bootstrap string        // the service's bootstrap, from BuildBootstraps
	Timeout   time.Duration // AWS_LAMBDA_FUNCTION_TIMEOUT, whole seconds
	Env       []string      // added after the service's own environment
}

// StartFunction starts the named service's bootstrap under the emulator,
// on 127.0.0.1 and free ports, with the service's environment (the
// emulator passes its own on to the function). Its output and the
// emulator's go to <LogDir>/<name>.log, so Logs(name) reads both.
func (p *Pipeline) StartFunction(ctx context.Context, name string, s FunctionSetup) (*Function, error) {
	if s.Timeout < time.Second || s.Timeout%time.Second != 0 {
		return nil, fmt.Errorf("function %s: timeout %v, want whole seconds", name, s.Timeout)
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(p.LogDir, 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(p.LogDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	f := &Function{Name: name, addr: "127.0.0.1:" + ports[0], runtimeAPI: "127.0.0.1:" + ports[1], timeout: s.Timeout, done: make(chan struct{}), log: logf}
	// The emulator listens on 0.0.0.0:8080 and serves the Runtime API on
	// 127.0.0.1:9001 unless told otherwise: both are set, so that tests
	// can run side by side.
	f.cmd = exec.Command(s.RIE,
		"--runtime-interface-emulator-address", f.addr,
		"--runtime-api-address", f.runtimeAPI,
		s.Bootstrap)
	f.cmd.Dir = filepath.Dir(s.Bootstrap)
	f.cmd.Env = append(p.ServiceEnv(name),
		"SLUICE_TRANSPORT=lambda",
		"AWS_LAMBDA_FUNCTION_NAME=sluice-"+name,
		"AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(int(s.Timeout/time.Second)),
		"LOG_LEVEL=warn", // the emulator's own logging; START/END/REPORT lines remain
	)
	f.cmd.Env = append(f.cmd.Env, s.Env...)
	f.cmd.Stdout, f.cmd.Stderr = logf, logf
	if err := f.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s under aws-lambda-rie: %w", name, err)
	}
	go func() {
		_ = f.cmd.Wait()
		close(f.done)
	}()
	if err := f.awaitListening(ctx); err != nil {
		f.Stop()
		return nil, err
	}
	return f, nil
}

func (f *Function) awaitListening(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		c, err := net.DialTimeout("tcp", f.addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-f.done:
			return fmt.Errorf("aws-lambda-rie for %s exited at start (see its log)", f.Name)
		case <-ctx.Done():
			return fmt.Errorf("aws-lambda-rie for %s not listening on %s: %w", f.Name, f.addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// freePorts returns n ports that were free on 127.0.0.1 a moment ago.
func freePorts(n int) ([]string, error) {
	var ports []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close() // held until all are picked, so they differ
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		ports = append(ports, port)
	}
	return ports, nil
}

// Invocation is what the emulator answered to one invocation.
type Invocation struct {
	Status int    // HTTP status of the emulator's answer
	Body   []byte // the function's response, or its error document
	// Failed: the function answered with an error (an invocation or init
	// error), or its process exited. Lambda flags this with the
	// X-Amz-Function-Error header; the emulator drops the header, so it is
	// read off the answer: a 502, or a 200 whose body is the runtime's
	// error document ({"errorMessage": …, "errorType": …}).
	Failed bool
	// TimedOut: the function did not answer within its timeout, and the
	// emulator stopped it (its answer is then "Task timed out after …").
	TimedOut bool
}

// isErrorDocument reports whether body is the error document a runtime
// posts to /invocation/error or /init/error.
func isErrorDocument(body []byte) bool {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return false
	}
	_, msg := doc["errorMessage"]
	_, typ := doc["errorType"]
	return msg && typ
}

// Invoke invokes the function with payload, as `aws lambda invoke` would
// (RequestResponse), and waits for the answer; concurrent calls wait
// their turn.
func (f *Function) Invoke(ctx context.Context, payload []byte) (Invocation, error) {
	f.invoking.Lock()
	defer f.invoking.Unlock()
	// The emulator answers a timeout itself; the margin covers a first
	// invocation's init, which it runs before the timeout starts.
	ctx, cancel := context.WithTimeout(ctx, f.timeout+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+f.addr+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
	if err != nil {
		return Invocation{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Invocation{}, fmt.Errorf("invoke %s: %w", f.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Invocation{}, fmt.Errorf("invoke %s: read the answer: %w", f.Name, err)
	}
	inv := Invocation{Status: resp.StatusCode, Body: body}
	inv.TimedOut = resp.StatusCode == http.StatusOK && bytes.HasPrefix(body, []byte("Task timed out after "))
	inv.Failed = resp.StatusCode == http.StatusBadGateway || isErrorDocument(body)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadGateway {
		return inv, fmt.Errorf("invoke %s: emulator answered %s: %s", f.Name, resp.Status, body)
	}
	return inv, nil
}

// Stall stops (SIGSTOP) the function's running bootstrap, as a process
// stuck past its deadline would be: it answers nothing until the emulator
// kills it at its timeout. It fails if no bootstrap is running.
func (f *Function) Stall() error {
	pids, err := f.bootstraps()
	if err != nil {
		return err
	}
	if len(pids) == 0 {
		return fmt.Errorf("%s: no bootstrap running under the emulator", f.Name)
	}
	var errs []error
	for _, pid := range pids {
		errs = append(errs, syscall.Kill(pid, syscall.SIGSTOP))
	}
	return errors.Join(errs...)
}

// bootstraps lists the processes the emulator started for this function:
// those whose AWS_LAMBDA_RUNTIME_API is its Runtime API address, which is
// unique to it. (The emulator runs the bootstrap in a process group of its
// own, and the bootstrap outlives an emulator that crashed, so neither the
// group nor the parent finds it reliably.)
func (f *Function) bootstraps() ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	want := []byte("AWS_LAMBDA_RUNTIME_API=" + f.runtimeAPI + "\x00")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == f.cmd.Process.Pid {
			continue
		}
		environ, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue // gone meanwhile, or not ours to read
		}
		if bytes.Contains(append([]byte{0}, environ...), append([]byte{0}, want...)) {
			out = append(out, pid)
		}
	}
	return out, nil
}

// Stop ends the emulator (SIGTERM, on which it kills its bootstrap; SIGKILL
// after 5s) and then any bootstrap it left. Stopping again does nothing.
func (f *Function) Stop() { f.stop.Do(f.terminate) }

func (f *Function) terminate() {
	_ = f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-f.done:
	case <-time.After(5 * time.Second):
		_ = f.cmd.Process.Kill()
		<-f.done
	}
	left, _ := f.bootstraps()
	for _, pid := range left {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	f.log.Close()
}
