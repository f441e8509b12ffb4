package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/localrun"
	"github.com/sluice-data/sluice/shared/demoapi"
)

// Three authenticated sources with three more pagination styles, through
// the real binaries: OAuth2 whose tokens are revoked every few uses (the
// fetcher refreshes and goes on), an API key in the query string, HTTP
// basic; Link-header, next-URL and offset pagination. Every fetch is
// handed over to a new invocation every 200ms (continuation messages,
// checkpoints in the run record), and every partition must still hold
// exactly the API's records, with no secret in any log.
func TestAuthenticatedSourcesWithContinuations(t *testing.T) {
	t.Parallel()
	env := []string{"SLUICE_HANDOFF_AFTER=200ms", "SLUICE_MAX_MESSAGE_BYTES=32768"}
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
	for _, r := range e.waitRuns(90*time.Second, "orders/2026-11-20", "customers/2026-11-20", "events/2026-11-20") {
		e.checkPartition(r)
		if r.Attempt != 1 {
			t.Errorf("%s: attempt %d, want 1: hand-overs continue the same attempt", r.Input, r.Attempt)
		}
	}
	if n := e.api.TokenRequests(); n < 2 {
		t.Errorf("%d OAuth2 token requests; revoked tokens must be refreshed mid-walk", n)
	}
	logs, _ := e.pipe.Logs("fetcher")
	if n := strings.Count(logs, "handed over to a new invocation"); n < 3 {
		t.Errorf("%d hand-overs logged, want several", n)
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
