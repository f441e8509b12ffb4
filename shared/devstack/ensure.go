package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ExternalEnv is the environment variable that, set to "external", forbids
// Ensure to start anything.
const ExternalEnv = "SLUICE_DEVSTACK"

// startTimeout bounds `scripts/stack.sh up` (which bounds each emulator's
// start itself) including a first install, which builds versitygw.
const startTimeout = 10 * time.Minute

// readyTimeout bounds the wait after `up` returned until Check passes.
const readyTimeout = 15 * time.Second

var ensureMu sync.Mutex // one `stack.sh up` per process; the script locks across processes

// Ensure returns the local endpoints once all three emulators answer. If
// they do not, it runs scripts/stack.sh up from the repository root (the
// nearest directory above the working directory holding go.work) and waits
// for them, unless SLUICE_DEVSTACK=external, in which case it only checks.
// The emulators it starts keep running after the process exits.
func Ensure(ctx context.Context) (Endpoints, error) {
	e := LocalEndpoints()
	if err := e.Check(ctx); err == nil {
		return e, nil
	} else if os.Getenv(ExternalEnv) == "external" {
		return e, fmt.Errorf("local emulators not reachable and %s=external forbids starting them: %w", ExternalEnv, err)
	}

	ensureMu.Lock()
	defer ensureMu.Unlock()
	if err := e.Check(ctx); err == nil { // another goroutine started them meanwhile
		return e, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return e, err
	}
	if err := stackUp(ctx, root); err != nil {
		return e, err
	}
	return e, waitReady(ctx, e)
}

func stackUp(ctx context.Context, root string) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	script := filepath.Join(root, "scripts", "stack.sh")
	cmd := exec.CommandContext(ctx, "bash", script, "up")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// The emulators' own output goes to .local/run/*.log, so Wait does not
	// wait for them; WaitDelay guards against a stray inherited pipe anyway.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s up: %w\n%s", script, err, strings.TrimSpace(out.String()))
	}
	return nil
}

func waitReady(ctx context.Context, e Endpoints) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		err := e.Check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("local emulators not ready after scripts/stack.sh up: %w", err)
		case <-tick.C:
		}
	}
}

// RepoRoot returns the nearest directory at or above the working directory
// that holds go.work and scripts/stack.sh.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if isFile(filepath.Join(dir, "go.work")) && isFile(filepath.Join(dir, "scripts", "stack.sh")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository root: no directory above the working directory holds go.work and scripts/stack.sh")
		}
		dir = parent
	}
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
