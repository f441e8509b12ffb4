package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/scripts/localrun"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/sink"
)

// Bounds of the waits below. Starting takes a go build of the dev command
// and of five binaries (cached after the first) plus the services'
// start-up, on a loaded machine; a run of one small day takes a few
// seconds, and a redelivery after a lost receive the queues' 30s
// visibility; stopping takes each service's poll wait (1s) and at most
// localrun's 15s grace per service.
const (
	startWait = 5 * time.Minute
	runWait   = 2 * time.Minute
	stopWait  = 4*15*time.Second + 30*time.Second
)

// TestMain builds what make dev runs once, before the tests start their
// make dev side by side: each then finds the binaries up to date and
// leaves them as they are, rather than several writing them at once.
func TestMain(m *testing.M) {
	root, err := devstack.RepoRoot()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), startWait)
		err = buildAll(ctx, root)
		cancel()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// buildAll builds the dev command as the Makefile does, and the binaries it
// builds itself.
func buildAll(ctx context.Context, root string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", ".local/bin/sluice-dev", "./scripts/dev")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./scripts/dev: %w\n%s", err, out)
	}
	return localrun.Build(ctx, root, filepath.Join(root, ".local", "bin"))
}

// `make dev` with a user's pipeline file: its API is a test server of its
// own whose source wants a bearer token, an env: secret given only to
// make's environment (the user's shell), beside an AWS profile and session
// token of a real account, which must not reach the services. The test waits for the export
// lines and starts a run of the window the printed example names, with
// sluicectl using nothing but the exports or with the schedule ticker
// (-schedule-every); waits until the run SUCCEEDED, its partition holds
// exactly the API's records and the status view shows it; then stops make
// dev, and checks that the dev command exited 0, that it and the services
// (from the pid file) and everything in make's process group are gone,
// and that -remove deleted the resource set.
//
// Two ways to stop it: Ctrl-C at a terminal, SIGINT to make's whole
// process group, after which GNU make, once its job has ended, dies of the
// same signal as POSIX shells expect (it would print "Error N" had the dev
// command failed); and SIGINT to the dev command alone, after which make
// exits 0.
func TestMakeDevRunsAUsersPipelineAndStopsCleanly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		schedule bool // the run comes from the schedule ticker, not sluicectl trigger
		stop     func(makePid, devPid int) error
		wantMake func(err error) bool
	}{
		{"sluicectl trigger, Ctrl-C at the terminal", false, func(makePid, _ int) error { return syscall.Kill(-makePid, syscall.SIGINT) }, func(err error) bool {
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				return false
			}
			ws, ok := exit.Sys().(syscall.WaitStatus)
			return ok && ws.Signaled() && ws.Signal() == syscall.SIGINT
		}},
		{"schedule ticker, SIGINT to the dev command", true, func(_, devPid int) error { return syscall.Kill(devPid, syscall.SIGINT) }, func(err error) bool { return err == nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			testMakeDev(t, tt.schedule, tt.stop, tt.wantMake)
		})
	}
}

func testMakeDev(t *testing.T, schedule bool, stop func(makePid, devPid int) error, wantMake func(error) bool) {
	root, awsCfg := stack(t)
	const source = "orders"
	api := demoapi.New(demoapi.Options{RecordsPerDay: 700, PageSize: 100,
		Sources: map[string]demoapi.SourceOptions{source: {Style: demoapi.PageNumber, Auth: demoapi.AuthBearer}}})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "pipeline.yaml")
	if err := os.WriteFile(file, []byte(api.PipelineYAML(srv.URL, nil)), 0o644); err != nil {
		t.Fatal(err)
	}
	prefix := testPrefix(t, awsCfg)

	flags := "-prefix " + prefix + " -refresh 500ms -remove"
	if schedule {
		flags += " -schedule-every 1h"
	}
	// The shell also holds the settings of someone's real AWS account,
	// which must not reach the services (an unknown profile stops the SDK).
	dev := startMakeDev(t, root, []string{"PIPELINE=" + file, "DEV_FLAGS=" + flags}, demoapi.EnvBearerToken+"="+demoapi.BearerToken,
		"AWS_PROFILE=no-such-profile", "AWS_SESSION_TOKEN=a-real-accounts-token")
	started := time.Now()
	dev.waitFor(t, "==> watching the runs", startWait)
	ready := time.Since(started)
	env := dev.exports(t)
	for _, k := range []string{"AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3", "AWS_REGION",
		"AWS_ACCESS_KEY_ID", "SLUICE_INPUTS_QUEUE_URL", "SLUICE_TRIGGERS_QUEUE_URL", "SLUICE_RUNS_TABLE", "SLUICE_BUCKET", "SLUICE_PIPELINE_FILE"} {
		if env[k] == "" {
			t.Errorf("no export line for %s; output:\n%s", k, dev.output())
		}
	}
	if !strings.Contains(dev.output(), "\nunset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN") {
		t.Errorf("the export lines do not unset a real account's profile and token:\n%s", dev.output())
	}
	if env["SLUICE_PIPELINE_FILE"] != file {
		t.Errorf("SLUICE_PIPELINE_FILE=%q, want %q", env["SLUICE_PIPELINE_FILE"], file)
	}
	example := regexp.MustCompile(`(?m)^   sluicectl trigger --source ` + source + ` --window (\S+)$`).FindStringSubmatch(dev.output())
	if example == nil {
		t.Fatalf("no example trigger command in the output:\n%s", dev.output())
	}
	window := example[1]
	pids := readPids(t, filepath.Join(root, ".local", "dev", prefix, "pids"))
	for _, s := range localrun.Services {
		if pid, ok := pids[s.Name]; !ok || !alive(pid) {
			t.Fatalf("service %s (pid %d) not running while make dev runs; pids %v; output:\n%s", s.Name, pid, pids, dev.output())
		}
	}
	if _, ok := pids["dev"]; !ok || len(pids) != len(localrun.Services)+1 {
		t.Fatalf("pid file names %v, want the services and dev, nothing else", pids)
	}

	// A run, triggered with the exports alone (as from another shell), or
	// by the ticker: the latest window due, as EventBridge would ask.
	wantTrigger := "schedule"
	if !schedule {
		wantTrigger = "manual"
		path, err := lookPath("sluicectl", env["PATH"])
		if err != nil || filepath.Dir(path) != filepath.Join(root, ".local", "bin") {
			t.Fatalf("sluicectl on the exported PATH: %q, %v; want the one in .local/bin", path, err)
		}
		ctl := exec.CommandContext(t.Context(), path, "trigger", "--source", source, "--window", window)
		ctl.Env = []string{}
		for k, v := range env {
			ctl.Env = append(ctl.Env, k+"="+v)
		}
		if out, err := ctl.CombinedOutput(); err != nil {
			t.Fatalf("sluicectl trigger with the exports: %v\n%s", err, out)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), runWait)
	defer cancel()
	store, err := runs.New(dynamodb.NewFromConfig(awsCfg), runs.Config{Table: env["SLUICE_RUNS_TABLE"]})
	if err != nil {
		t.Fatal(err)
	}
	done, err := localrun.WaitRuns(ctx, store, []string{source + "/" + window}, func(r runs.Run) bool { return r.Status == runs.Succeeded || r.Status == runs.Failed })
	if err != nil {
		t.Fatalf("run not finished within %v: %v\noutput:\n%s\nqueues:\n%s", runWait, err, dev.output(),
			localrun.Where(t.Context(), env["AWS_ENDPOINT_URL_SQS"], devstackResources(env)))
	}
	s3c := s3.NewFromConfig(awsCfg)
	if _, err := localrun.Verify(ctx, s3c, sink.New(s3c, env["SLUICE_BUCKET"], ""), done[0], api.RecordsFor(source, window)); err != nil {
		t.Fatalf("partition: %v", err)
	}
	if done[0].Trigger != wantTrigger {
		t.Errorf("run triggered by %q, want %q", done[0].Trigger, wantTrigger)
	}
	// The status grid: the source's latest succeeded window, and fresh.
	viewLine := regexp.MustCompile(`(?m)^` + source + `\s+day\s.*\s` + regexp.QuoteMeta(window) + `\s+\S+\s+\S+\s+ok\b`)
	dev.waitForRE(t, viewLine, 30*time.Second) // the view refreshes every 500ms

	ran := time.Since(started) - ready
	stopped := time.Now()
	if err := stop(dev.cmd.Process.Pid, pids["dev"]); err != nil {
		t.Fatal(err)
	}
	err = dev.wait(stopWait)
	t.Logf("make dev: ready (services polling, exports printed) %v after the start, the run done and shown %v later, exited %v after the stop", ready.Round(time.Millisecond), ran.Round(time.Millisecond), time.Since(stopped).Round(time.Millisecond))
	if !wantMake(err) {
		t.Fatalf("make dev after the stop: %v\nstdout:\n%s\nstderr:\n%s", err, dev.output(), dev.stderr.String())
	}
	if strings.Contains(dev.stderr.String(), "Error") {
		t.Errorf("the dev command failed:\n%s", dev.stderr.String())
	}
	for name, pid := range pids {
		if alive(pid) {
			t.Errorf("%s (pid %d) still running after make dev exited", name, pid)
		}
	}
	if left := groupMembers(t, dev.cmd.Process.Pid); len(left) > 0 {
		t.Errorf("processes left in make's process group: %v", left)
	}
	if _, err := os.Stat(filepath.Join(root, ".local", "dev", prefix, "pids")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file still there after a clean stop (stat: %v)", err)
	}
	for _, s := range localrun.Services {
		if logs, err := os.ReadFile(filepath.Join(root, ".local", "dev", prefix, s.Name+".log")); err != nil || !bytes.Contains(logs, []byte(`"msg":"stopped"`)) {
			t.Errorf("%s's log shows no graceful stop (%v)", s.Name, err)
		}
	}
	if _, err := sqs.NewFromConfig(awsCfg).GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: aws.String(prefix + "-triggers")}); err == nil {
		t.Errorf("queue %s-triggers still exists after -remove", prefix)
	}
	t.Logf("make dev printed:\n%s", dev.output())
	if !strings.Contains(dev.output(), "==> stopped; nothing left running") {
		t.Errorf("output does not say the services stopped:\n%s", dev.output())
	}
	// The bearer token and the real account's session token are secrets:
	// in nothing make dev printed, wrote beside its exports, or logged.
	// (The pid file, gone after the clean stop, held nothing else: while it
	// ran, each of its lines was a known name and a number.)
	envFile, err := os.ReadFile(filepath.Join(root, ".local", "dev", prefix, "env"))
	if err != nil {
		t.Fatalf("the exports file after the stop: %v", err)
	}
	written := map[string]string{"stdout": dev.output(), "stderr": dev.stderr.String(), ".local/dev/<prefix>/env": string(envFile)}
	for _, s := range localrun.Services {
		b, err := os.ReadFile(filepath.Join(root, ".local", "dev", prefix, s.Name+".log"))
		if err != nil {
			t.Errorf("%s's log: %v", s.Name, err)
		}
		written[s.Name+".log"] = string(b)
	}
	for where, text := range written {
		for _, secret := range []string{demoapi.BearerToken, "a-real-accounts-token"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds the secret %q", where, secret)
			}
		}
	}
}

// A pipeline file make dev cannot run fails fast, says why, and starts
// nothing: no resources, no log directory, no process left.
func TestMakeDevRefusesWhatItCannotRunAndStartsNothing(t *testing.T) {
	t.Parallel()
	root, awsCfg := stack(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	bearer := demoapi.New(demoapi.Options{Sources: map[string]demoapi.SourceOptions{"orders": {Auth: demoapi.AuthBearer}}}).PipelineYAML("http://127.0.0.1:1", nil)
	tests := []struct {
		name string
		make []string // arguments after `make dev`; -prefix is added
		want []string // in stderr
	}{
		{"invalid config", []string{"PIPELINE=" + write("bad.yaml", "version: 1\nsources:\n  - name: Orders\n    request: {base_url: \"ftp://api\", path: /v1}\n")},
			[]string{"nothing started", "bad.yaml: sources[0].name: invalid name", "sources[0].request.base_url", "sources[0].pagination: required"}},
		{"no such file", []string{"PIPELINE=" + filepath.Join(dir, "missing.yaml")},
			[]string{"nothing started", "missing.yaml", "no such file"}},
		{"env: secret not set", []string{"PIPELINE=" + write("secret.yaml", bearer)},
			[]string{"nothing started", "sources[0].auth.token (source orders)", "environment variable " + demoapi.EnvBearerToken + " is not set", "export it"}},
		{"secretsmanager: without a local endpoint", []string{"PIPELINE=" + write("sm.yaml", strings.Replace(bearer, "env:"+demoapi.EnvBearerToken, "secretsmanager:orders-token", 1))},
			[]string{"nothing started", "sources[0].auth.token", "a secretsmanager: reference, and the local stack has no secretsmanager"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			prefix := testPrefix(t, awsCfg)
			start := time.Now()
			dev := startMakeDev(t, root, append(tt.make, "DEV_FLAGS=-prefix "+prefix))
			err := dev.wait(startWait)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("make dev: %v, want a non-zero exit\nstdout:\n%s", err, dev.output())
			}
			for _, w := range tt.want {
				if !strings.Contains(dev.stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, dev.stderr.String())
				}
			}
			if strings.Contains(dev.output(), "==>") {
				t.Errorf("make dev went on after the check (in %v):\n%s", time.Since(start), dev.output())
			}
			if _, err := os.Stat(filepath.Join(root, ".local", "dev", prefix)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("log directory of %s created (stat: %v)", prefix, err)
			}
			if _, err := sqs.NewFromConfig(awsCfg).GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: aws.String(prefix + "-triggers")}); err == nil {
				t.Errorf("queue %s-triggers provisioned", prefix)
			}
			if left := groupMembers(t, dev.cmd.Process.Pid); len(left) > 0 {
				t.Errorf("processes left in make's process group: %v", left)
			}
		})
	}
}

// stack returns the repository root and a config for the running
// emulators, which the tests use but never start (make dev runs with
// SLUICE_DEVSTACK=external).
func stack(t *testing.T) (string, aws.Config) {
	t.Helper()
	root, err := devstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	endpoints, err := devstack.Ensure(t.Context())
	if err != nil {
		t.Fatalf("local AWS emulators unavailable: %v", err)
	}
	cfg, err := devstack.AWSConfig(t.Context(), endpoints)
	if err != nil {
		t.Fatal(err)
	}
	return root, cfg
}

// testPrefix is a fresh resource prefix whose resources and log directory
// are removed when the test ends, whatever make dev left.
func testPrefix(t *testing.T, cfg aws.Config) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "t-dev-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := devstack.Remove(ctx, cfg, devstack.Names{Prefix: prefix}); err != nil {
			t.Logf("cleanup of %s: %v", prefix, err)
		}
		root, _ := devstack.RepoRoot()
		_ = os.RemoveAll(filepath.Join(root, ".local", "dev", prefix))
	})
	return prefix
}

// makeDev is one `make dev` under test, in a process group of its own.
type makeDev struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan error

	mu    sync.Mutex
	lines []string
	seen  chan struct{} // signalled on every new stdout line
}

// startMakeDev starts `make -C root dev args…` with SLUICE_DEVSTACK=external
// and extra environment, and stops what is left of it when the test ends.
func startMakeDev(t *testing.T, root string, args []string, extra ...string) *makeDev {
	t.Helper()
	cmd := exec.Command("make", append([]string{"--no-print-directory", "-C", root, "dev"}, args...)...)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", demoapi.EnvBearerToken: // not the caller's make, nor its secrets
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, append([]string{devstack.ExternalEnv + "=external"}, extra...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &makeDev{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan error, 1), seen: make(chan struct{}, 1)}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			d.mu.Lock()
			d.lines = append(d.lines, sc.Text())
			d.mu.Unlock()
			select {
			case d.seen <- struct{}{}:
			default:
			}
		}
		d.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
			if d.wait(stopWait) != nil {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
		}
	})
	return d
}

// wait waits up to timeout for make to exit and returns its error.
func (d *makeDev) wait(timeout time.Duration) error {
	select {
	case err := <-d.done:
		d.done <- err // for a second caller
		return err
	case <-time.After(timeout):
		return errors.New("still running after " + timeout.String())
	}
}

func (d *makeDev) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.lines, "\n")
}

// waitFor waits until a stdout line starts with prefix.
func (d *makeDev) waitFor(t *testing.T, prefix string, timeout time.Duration) {
	t.Helper()
	d.waitForRE(t, regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(prefix)), timeout)
}

// waitForRE waits until stdout matches re; make exiting first fails.
func (d *makeDev) waitForRE(t *testing.T, re *regexp.Regexp, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for !re.MatchString(d.output()) {
		select {
		case <-d.seen:
		case <-time.After(time.Second):
			if d.cmd.ProcessState != nil || len(d.done) > 0 {
				t.Fatalf("make dev exited before printing %v\nstdout:\n%s\nstderr:\n%s", re, d.output(), d.stderr.String())
			}
		case <-deadline:
			t.Fatalf("make dev did not print %v within %v\nstdout:\n%s\nstderr:\n%s", re, timeout, d.output(), d.stderr.String())
		}
	}
}

// exports parses the export lines printed so far.
func (d *makeDev) exports(t *testing.T) map[string]string {
	t.Helper()
	env := map[string]string{}
	line := regexp.MustCompile(`^export ([A-Z_][A-Z0-9_]*)='(.*)'$`)
	for _, l := range strings.Split(d.output(), "\n") {
		if m := line.FindStringSubmatch(l); m != nil {
			env[m[1]] = strings.ReplaceAll(m[2], `'\''`, "'")
		}
	}
	return env
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// readPids reads the "<service> <pid>" lines of the dev command's pid file.
func readPids(t *testing.T, path string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pids := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		name, pid, _ := strings.Cut(l, " ")
		n, err := strconv.Atoi(pid)
		if err != nil {
			t.Fatalf("pid file line %q: %v", l, err)
		}
		pids[name] = n
	}
	return pids
}

// alive reports whether pid names a process that has not ended (a zombie
// has ended).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// groupMembers lists the live processes of process group pgid, from /proc.
func groupMembers(t *testing.T, pgid int) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("list processes: %v", err)
	}
	var members []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // ended meanwhile
		}
		// pid (comm) state ppid pgrp …; comm may hold spaces.
		i := bytes.LastIndexByte(stat, ')')
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) > 2 && fields[2] == strconv.Itoa(pgid) && fields[0] != "Z" {
			members = append(members, strconv.Itoa(pid)+" "+string(stat[:i+1]))
		}
	}
	return members
}

// lookPath finds name on the given PATH.
func lookPath(name, path string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// devstackResources rebuilds the session's queue URLs from its exports,
// for localrun.Where.
func devstackResources(env map[string]string) devstack.Resources {
	q := func(key string) devstack.Queue {
		u := env["SLUICE_"+strings.ToUpper(key)+"_QUEUE_URL"]
		return devstack.Queue{URL: u, DLQURL: u + "-dlq"}
	}
	return devstack.Resources{Triggers: q(devstack.Triggers), Inputs: q(devstack.Inputs), Fetch: q(devstack.Fetch), Batches: q(devstack.Batches)}
}
