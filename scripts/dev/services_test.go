package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/localrun"
)

// fakeServices writes a stand-in for each of the four services into a
// temporary bin directory: script, run by /bin/sh, unless a service has its
// own in scripts. They are never given the emulators.
func fakeServices(t *testing.T, script string, scripts map[string]string) *localrun.Pipeline {
	t.Helper()
	bin := t.TempDir()
	for _, s := range localrun.Services {
		body := script
		if own, ok := scripts[s.Name]; ok {
			body = own
		}
		if err := os.WriteFile(filepath.Join(bin, s.Name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := &localrun.Pipeline{Bin: bin, LogDir: t.TempDir(), Setpgid: true}
	t.Cleanup(func() {
		for _, proc := range p.Procs() {
			proc.Kill()
		}
	})
	return p
}

// Services that ignore SIGTERM are killed at once on the second signal,
// not after localrun's 15s grace.
func TestSecondSignalKillsServicesAtOnce(t *testing.T) {
	t.Parallel()
	p := fakeServices(t, `trap '' TERM; echo '{"msg":"polling"}'; exec sleep 120`, nil)
	if err := p.StartAll(); err != nil {
		t.Fatal(err)
	}
	if err := waitPolling(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	procs := p.Procs()
	force := make(chan struct{})
	time.AfterFunc(500*time.Millisecond, func() { close(force) })
	start := time.Now()
	if err := stopServices(p, force); err != nil {
		t.Errorf("stopServices after a second signal: %v, want nil", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("stop took %v, want about the 500ms until the second signal", took)
	}
	for _, proc := range procs {
		if !proc.Exited() || alive(proc.Pid()) {
			t.Errorf("%s (pid %d) still running", proc.Name, proc.Pid())
		}
	}
}

// A service that exits while the others start ends the wait with an error
// naming it and the end of its log.
func TestAServiceExitingOnItsOwnIsReportedWithItsLog(t *testing.T) {
	t.Parallel()
	p := fakeServices(t, `echo '{"msg":"polling"}'; exec sleep 120`, map[string]string{
		"fetcher": `echo 'line 1'; echo 'fetcher: secret env:API_TOKEN: environment variable API_TOKEN is not set'; exit 1`,
	})
	if err := p.StartAll(); err != nil {
		t.Fatal(err)
	}
	err := waitPolling(t.Context(), p)
	if err == nil {
		t.Fatal("waitPolling: nil, want the fetcher's exit")
	}
	for _, want := range []string{"fetcher exited on its own", filepath.Join(p.LogDir, "fetcher.log"), "line 1\nfetcher: secret env:API_TOKEN"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
