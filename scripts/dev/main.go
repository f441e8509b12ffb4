// Command dev runs Sluice against your own pipeline config on the local
// AWS emulators until you stop it: `make dev PIPELINE=path/to/pipeline.yaml`.
//
//  1. checks the pipeline config, and that every env: secret it references
//     is set in your environment (the services inherit it); on a bad file
//     it says what is wrong and starts nothing;
//  2. starts the emulators unless they already run (with
//     SLUICE_DEVSTACK=external it never does), and then stops them at exit;
//  3. provisions a resource set (queues with their DLQs, runs table,
//     bucket) under -prefix, by default dev-<UTC time>;
//  4. builds and starts scheduler (its sweep on, and with -schedule-every
//     a schedule trigger on a ticker, as EventBridge sends on AWS), dedupe,
//     fetcher and writer as local pollers, each in a process group of its
//     own, logging to .local/dev/<prefix>/<service>.log (their pids in
//     .local/dev/<prefix>/pids while they run, with this command's);
//  5. prints the export lines for sluicectl and the AWS CLI (also written
//     to .local/dev/<prefix>/env, to source in another shell) and commands
//     that start a run;
//  6. shows the status grid (sluicectl status: every source × its latest
//     windows, the runs in progress, the failed windows), refreshed every -refresh, until
//     SIGINT (Ctrl-C), SIGTERM or SIGHUP;
//  7. stops the services: SIGTERM, and SIGKILL for one still running 15s
//     later; a second Ctrl-C kills them at once. A service that exits on
//     its own ends the session too, with the end of its log.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-data/sluice/scripts/localrun"
	"github.com/sluice-data/sluice/shared/devstack"
)

// options are the command's flags.
type options struct {
	pipeline      string
	prefix        string
	refresh       time.Duration
	scheduleEvery time.Duration
	remove        bool
	keepStack     bool
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.StringVar(&o.pipeline, "pipeline", "", "the pipeline config the services run (required; make dev: PIPELINE=path)")
	fs.StringVar(&o.prefix, "prefix", "dev-"+time.Now().UTC().Format("20060102-150405"), "resource prefix: queues <prefix>-<queue>[-dlq], table <prefix>-runs, bucket <prefix>-data; an existing set is reused")
	fs.DurationVar(&o.refresh, "refresh", 3*time.Second, "how often the status view (sluicectl status) is drawn again")
	fs.DurationVar(&o.scheduleEvery, "schedule-every", 0, "send the scheduler a schedule trigger (every source, its windows due) at start and then this often, as EventBridge does on AWS (0: never)")
	fs.BoolVar(&o.remove, "remove", false, "delete the resource set (queues, table, bucket and its objects) at exit")
	fs.BoolVar(&o.keepStack, "keep-stack", false, "leave the emulators running at exit even if this session started them")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.pipeline == "":
		return o, errors.New("-pipeline is required (make dev PIPELINE=path/to/pipeline.yaml)")
	case o.refresh <= 0:
		return o, fmt.Errorf("-refresh %v: want a positive duration", o.refresh)
	case o.scheduleEvery < 0:
		return o, fmt.Errorf("-schedule-every %v: want 0 (never) or a positive duration", o.scheduleEvery)
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(2)
	}
	// The first signal ends the session (ctx), a second one kills the
	// services without waiting for them (force).
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(context.Background())
	force := make(chan struct{})
	go func() {
		<-sigs
		cancel()
		<-sigs
		close(force)
	}()
	if err := run(ctx, o, force); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("interrupted: %w", err)
		}
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(1)
	}
	step("stopped; nothing left running")
}

// readyTimeout bounds the wait for every service to poll its queue (a
// loaded machine starts four Go binaries slowly).
const readyTimeout = 2 * time.Minute

func run(ctx context.Context, o options, force <-chan struct{}) (err error) {
	root, err := devstack.RepoRoot()
	if err != nil {
		return err
	}
	pipelineFile, err := filepath.Abs(o.pipeline) // make runs from the repository root
	if err != nil {
		return err
	}
	cfg, err := checkPipeline(ctx, pipelineFile)
	if err != nil {
		return fmt.Errorf("nothing started: %w", err)
	}
	names := devstack.Names{Prefix: o.prefix}
	if err := names.Validate(); err != nil {
		return fmt.Errorf("nothing started: -prefix: %w", err)
	}

	step("local AWS emulators")
	alreadyUp := devstack.LocalEndpoints().Check(ctx) == nil
	// Registered before the start, so that a start interrupted or failed
	// half-way (stack.sh up starts each emulator to outlive it) still
	// stops what it started.
	if !alreadyUp && !o.keepStack && os.Getenv("SLUICE_DEVSTACK") != "external" {
		defer func() {
			step("stopping the emulators this session started")
			if derr := exec.Command(filepath.Join(root, "scripts", "stack.sh"), "down").Run(); derr != nil {
				err = errors.Join(err, fmt.Errorf("scripts/stack.sh down: %w", derr))
			}
		}()
	}
	endpoints, err := devstack.Ensure(ctx)
	if err != nil {
		return err
	}
	switch {
	case alreadyUp:
		fmt.Println("   already running: used, and left running")
	case o.keepStack:
		fmt.Println("   started (scripts/stack.sh up); left running at exit (-keep-stack)")
	default:
		fmt.Println("   started (scripts/stack.sh up); stopped at exit")
	}
	awsCfg, err := devstack.AWSConfig(ctx, endpoints)
	if err != nil {
		return err
	}
	res, err := devstack.Provision(ctx, awsCfg, names, devstack.Options{})
	if err != nil {
		return err
	}
	if o.remove {
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if rerr := devstack.Remove(rctx, awsCfg, names); rerr != nil {
				err = errors.Join(err, fmt.Errorf("remove the resources of %s: %w", names.Prefix, rerr))
			} else {
				fmt.Printf("   removed the resources of %s (-remove)\n", names.Prefix)
			}
		}()
	}
	fmt.Printf("   resources: queues %s-{triggers,inputs,fetch,batches}[-dlq], table %s, bucket %s\n", names.Prefix, res.Table, res.Bucket)

	step("building and starting scheduler, dedupe, fetcher, writer")
	logDir := filepath.Join(root, ".local", "dev", names.Prefix)
	bin := filepath.Join(root, ".local", "bin")
	if err := localrun.Build(ctx, root, bin); err != nil {
		return err
	}
	withoutAmbientAWS()
	p := &localrun.Pipeline{Bin: bin, LogDir: logDir, Endpoints: endpoints, Resources: res, PipelineFile: pipelineFile, Setpgid: true}
	if err := p.StartAll(); err != nil {
		return err
	}
	pidFile := filepath.Join(logDir, "pids")
	defer func() {
		if serr := stopServices(p, force); serr != nil {
			err = errors.Join(err, serr)
			return
		}
		_ = os.Remove(pidFile) // nothing it names runs any more
	}()
	if err := writePids(pidFile, p.Procs()); err != nil {
		return err
	}
	if err := waitPolling(ctx, p); err != nil {
		if ctx.Err() != nil {
			return nil // stopped before they were all up
		}
		return err
	}
	fmt.Printf("   pipeline %s; logs (zap JSON) in %s/<service>.log, pids in %s\n", pipelineFile, logDir, pidFile)

	env := exports(endpoints, res, pipelineFile, bin)
	envFile := filepath.Join(logDir, "env")
	if err := writeEnvFile(envFile, env); err != nil {
		return err
	}
	step("for sluicectl and the AWS CLI, in another shell (or: source " + envFile + ")")
	writeExports(os.Stdout, env)
	step("start a run")
	for _, c := range examples(cfg, time.Now()) {
		fmt.Println("   " + c)
	}
	if o.scheduleEvery > 0 {
		fmt.Printf("   (a schedule trigger is sent now and every %v: -schedule-every)\n", o.scheduleEvery)
		go scheduleEvery(ctx, sqsSender(sqs.NewFromConfig(awsCfg), res.Triggers.URL), o.scheduleEvery, time.Now,
			func(err error) { fmt.Fprintln(os.Stderr, "dev:", err) })
	}
	step(fmt.Sprintf("watching the runs (sluicectl %s) every %v; Ctrl-C stops the services", strings.Join(viewCommand, " "), o.refresh))
	return watch(ctx, p, o.refresh, newScreen(os.Stdout))
}

func step(s string) { fmt.Printf("==> %s\n", s) }

// watch shows the status view every interval until ctx ends, or until a
// service exits on its own, which is an error naming it.
func watch(ctx context.Context, p *localrun.Pipeline, every time.Duration, scr *screen) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := exitedService(p); err != nil {
			return err
		}
		view, err := statusView(ctx, p)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			scr.fail(err, time.Now()) // tried again at the next tick
		} else {
			scr.show(view, time.Now())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// waitPolling waits until every service has logged that it polls its
// queue; a service that exits meanwhile is an error with its log's end.
func waitPolling(ctx context.Context, p *localrun.Pipeline) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		if err := exitedService(p); err != nil {
			return err
		}
		var waiting []string
		for _, s := range localrun.Services {
			if logs, _ := p.Logs(s.Name); !strings.Contains(logs, `"msg":"polling"`) {
				waiting = append(waiting, s.Name)
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%v not polling after %v (logs in %s): %w", waiting, readyTimeout, p.LogDir, ctx.Err())
		case <-t.C:
		}
	}
}

// exitedService returns an error naming the first service that has exited,
// with the end of its log; nil while they all run.
func exitedService(p *localrun.Pipeline) error {
	for _, proc := range p.Procs() {
		if proc.Exited() {
			logs, _ := p.Logs(proc.Name)
			return fmt.Errorf("%s exited on its own; the end of %s:\n%s", proc.Name, filepath.Join(p.LogDir, proc.Name+".log"), tail(logs, 15))
		}
	}
	return nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// stopServices stops every service p started: SIGTERM, then SIGKILL for
// one still running after localrun's grace, or at once on force.
func stopServices(p *localrun.Pipeline, force <-chan struct{}) error {
	procs := p.Procs()
	if len(procs) == 0 {
		return nil
	}
	step("stopping the services (Ctrl-C again kills them)")
	done := make(chan error, 1)
	go func() { done <- p.StopAll() }()
	select {
	case err := <-done:
		if err == nil {
			fmt.Println("   stopped")
		}
		return err
	case <-force:
		for _, proc := range procs {
			proc.Kill()
		}
		<-done
		fmt.Println("   killed (second signal)")
		return nil
	}
}

// writePids writes one "<name> <pid>" line for this command (name dev) and
// one per running service.
func writePids(path string, procs []*localrun.Proc) error {
	var b strings.Builder
	fmt.Fprintf(&b, "dev %d\n", os.Getpid())
	for _, proc := range procs {
		fmt.Fprintf(&b, "%s %d\n", proc.Name, proc.Pid())
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// writeEnvFile writes the export lines to path, to be sourced.
func writeEnvFile(path string, env []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "# sluicectl and the AWS CLI against one `make dev` session; source this file")
	writeExports(w, env)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
