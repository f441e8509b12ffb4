package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/scripts/localrun"
)

// Three authenticated sources with three more pagination styles, through
// the real binaries: OAuth2 whose tokens are revoked every few uses (the
// fetcher refreshes and goes on), an API key in the query string, HTTP
// basic; Link-header, next-URL and offset pagination. Every fetch is
// handed over to a new invocation every 100ms (continuation messages,
// checkpoints in the run record), and every partition must still hold
// exactly the API's records, with no secret in any log. The two serial
// walks (Link header, next URL) take at least 12 pages × 30ms each, so each
// hands over at least twice; the offset walk reads 4 pages at a time and
// may finish in one hop.
func TestAuthenticatedSourcesWithContinuations(t *testing.T) {
	t.Parallel()
	env := []string{"SLUICE_HANDOFF_AFTER=100ms", "SLUICE_MAX_MESSAGE_BYTES=32768"}
	for k, v := range demoapi.Env() {
		env = append(env, k+"="+v)
	}
	e := start(t, setup{
		api: demoapi.Options{RecordsPerDay: 600, PageSize: 50, Sources: map[string]demoapi.SourceOptions{
			"orders":    {Style: demoapi.LinkHeader, Auth: demoapi.AuthOAuth2, TokenUses: 4, Delay: 30 * time.Millisecond},
			"customers": {Style: demoapi.NextURL, Auth: demoapi.AuthAPIKeyQuery, RelativeNext: true, Delay: 30 * time.Millisecond},
			"events":    {Style: demoapi.Offset, Auth: demoapi.AuthBasic, Delay: 30 * time.Millisecond},
		}},
		env: env,
	})
	ctx := context.Background()
	if _, err := e.pipe.Ctl(ctx, "schedule", "--from", "2026-11-20", "--to", "2026-11-21"); err != nil {
		t.Fatal(err)
	}
	for _, r := range e.waitRuns(e.timing.within(60*time.Second), "orders/2026-11-20", "customers/2026-11-20", "events/2026-11-20") {
		e.checkPartition(r)
		if r.Attempt != 1 {
			t.Errorf("%s: attempt %d, want 1: hand-overs continue the same attempt", r.Input, r.Attempt)
		}
	}
	if n := e.api.TokenRequests(); n < 2 {
		t.Errorf("%d OAuth2 token requests; revoked tokens must be refreshed mid-walk", n)
	}
	logs, _ := e.pipe.Logs("fetcher")
	if n := strings.Count(logs, "handed over to a new invocation"); n < 4 {
		t.Errorf("%d hand-overs logged, want at least 4 (2 of each serial walk)", n)
	}
	for _, svc := range localrun.Services {
		logs, _ := e.pipe.Logs(svc.Name)
		for _, secret := range []string{demoapi.APIKey, demoapi.Password, demoapi.ClientSecret} {
			if strings.Contains(logs, secret) {
				t.Errorf("%s's log holds a secret", svc.Name)
			}
		}
	}
}

// A source whose secret is missing stops the fetcher at start-up, with the
// config file, the field and the reference — never a value.
func TestMissingSecretStopsTheFetcherAtStartUp(t *testing.T) {
	t.Parallel()
	e := start(t, setup{
		api:     demoapi.Options{Sources: map[string]demoapi.SourceOptions{"orders": {Auth: demoapi.AuthOAuth2}}},
		noStart: true,
	})
	// The demo's credentials are not in the environment.
	fetcher, err := e.pipe.Start("fetcher", demoapi.EnvClientSecret+"=")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !fetcher.Exited() {
		if time.Now().After(deadline) {
			t.Fatal("the fetcher started without its secrets")
		}
		time.Sleep(50 * time.Millisecond)
	}
	fetcher.Kill() // already gone: only marks it as expected to be
	logs, _ := e.pipe.Logs("fetcher")
	for _, want := range []string{"pipeline.yaml: sources[0].auth.client_id", "env:" + demoapi.EnvClientID, "pipeline.yaml: sources[0].auth.client_secret"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("the fetcher's error lacks %q:\n%s", want, tail(logs, 2000))
		}
	}
	if strings.Contains(logs, demoapi.ClientSecret) {
		t.Fatal("the error holds the secret")
	}
}
