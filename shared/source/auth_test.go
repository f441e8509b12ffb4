package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// The authorizers below stand in for package auth in these tests: just
// enough of each auth type to talk to the demo API. Their secrets resolve
// from a map rather than the environment.

// authorizers returns an Authorizer for each source of cfg with auth, its
// env: secrets looked up in env.
func authorizers(t *testing.T, cfg *pipeline.Config, env map[string]string) map[string]Authorizer {
	t.Helper()
	secret := func(s pipeline.Secret) string {
		scheme, name, _, err := s.Parse()
		if err != nil || scheme != pipeline.SecretEnv {
			t.Fatalf("secret reference: %v", err)
		}
		return env[name]
	}
	m := map[string]Authorizer{}
	for _, src := range cfg.Sources {
		a := src.Auth
		switch a.Type {
		case pipeline.APIKey:
			m[src.Name] = &staticAuth{apply: func(r *http.Request) {
				if a.In == "query" {
					q := r.URL.Query()
					q.Set(a.Name, secret(a.Key))
					r.URL.RawQuery = q.Encode()
					return
				}
				r.Header.Set(a.Name, secret(a.Key))
			}}
		case pipeline.Bearer:
			m[src.Name] = &staticAuth{apply: func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+secret(a.Token)) }}
		case pipeline.Basic:
			m[src.Name] = &staticAuth{apply: func(r *http.Request) { r.SetBasicAuth(secret(a.Username), secret(a.Password)) }}
		case pipeline.OAuth2ClientCredentials:
			m[src.Name] = &oauth2Auth{tokenURL: a.TokenURL, id: secret(a.ClientID), secret: secret(a.ClientSecret), scopes: a.Scopes}
		}
	}
	return m
}

// staticAuth adds fixed credentials; a 401 is final.
type staticAuth struct {
	apply     func(*http.Request)
	refreshes atomic.Int32
}

func (a *staticAuth) Authorize(_ context.Context, r *http.Request) error { a.apply(r); return nil }
func (a *staticAuth) Refresh(context.Context, *http.Request) (bool, error) {
	a.refreshes.Add(1)
	return false, nil
}

// oauth2Auth fetches a client-credentials token and fetches another on
// Refresh.
type oauth2Auth struct {
	tokenURL, id, secret string
	scopes               []string
	mu                   sync.Mutex
	token                string
	fetches              int
}

func (a *oauth2Auth) Authorize(ctx context.Context, r *http.Request) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token == "" {
		if err := a.fetch(ctx); err != nil {
			return err
		}
	}
	r.Header.Set("Authorization", "Bearer "+a.token)
	return nil
}

func (a *oauth2Auth) Refresh(ctx context.Context, _ *http.Request) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return true, a.fetch(ctx)
}

func (a *oauth2Auth) fetch(ctx context.Context) error {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {strings.Join(a.scopes, " ")}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(a.id, a.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if resp.StatusCode != http.StatusOK {
		return fault.Permanentf("token endpoint: status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" || tok.ExpiresIn <= 0 {
		return fmt.Errorf("token endpoint: bad response (%v)", err)
	}
	a.token = tok.AccessToken
	a.fetches++
	return nil
}

func TestFetchAuthKinds(t *testing.T) {
	tests := []struct {
		name string
		so   demoapi.SourceOptions
	}{
		{"api key in a header", demoapi.SourceOptions{Style: demoapi.PageNumber, Auth: demoapi.AuthAPIKeyHeader}},
		{"api key in the query", demoapi.SourceOptions{Style: demoapi.PageNumber, Auth: demoapi.AuthAPIKeyQuery}},
		{"api key in the query, next links echo it", demoapi.SourceOptions{Style: demoapi.NextURL, Auth: demoapi.AuthAPIKeyQuery}},
		{"bearer", demoapi.SourceOptions{Style: demoapi.Cursor, Auth: demoapi.AuthBearer}},
		{"basic", demoapi.SourceOptions{Style: demoapi.Offset, Auth: demoapi.AuthBasic}},
		{"oauth2 client credentials", demoapi.SourceOptions{Style: demoapi.LinkHeader, Auth: demoapi.AuthOAuth2}},
		{"oauth2 token revoked mid-walk", demoapi.SourceOptions{Style: demoapi.PageNumber, Auth: demoapi.AuthOAuth2, TokenUses: 2}},
		{"oauth2 with POST", demoapi.SourceOptions{Style: demoapi.Offset, Method: "POST", Auth: demoapi.AuthOAuth2, TokenUses: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startDemo(t, demoapi.Options{Sources: map[string]demoapi.SourceOptions{"src": tt.so}})
			c := testClient()
			c.Auth = authorizers(t, d.cfg, demoapi.Env())
			src := d.src("src")
			if tt.so.TokenUses > 0 {
				// A token good for so many requests is spent in the walk's
				// order only when it is serial: two pages in flight at once
				// can both take the last use of one token, and the second
				// then meets its successor spent as well.
				src.Pagination.Concurrency = 1
			}
			pages, err := walk(context.Background(), c, src, nil)
			if err != nil {
				t.Fatal(err)
			}
			assertRecords(t, allRecords(pages), d.api.RecordsFor("src", day))
			for _, p := range pages {
				if p.Next != nil && strings.Contains(p.Next.NextURL, demoapi.APIKey) {
					t.Errorf("state keeps the api key: %+v", p.Next)
				}
			}
			if o, ok := c.Auth["src"].(*oauth2Auth); ok {
				// Each token serves TokenUses requests, then one 401 asks
				// for the next.
				want := 1
				if tt.so.TokenUses > 0 {
					want = (len(pages) + tt.so.TokenUses - 1) / tt.so.TokenUses
				}
				if o.fetches != want || d.api.TokenRequests() != want {
					t.Errorf("%d tokens fetched (server: %d), want %d", o.fetches, d.api.TokenRequests(), want)
				}
			}
		})
	}
}

func TestFetchUnauthorized(t *testing.T) {
	const wrongKey = "wrong-key-0f9e8d7c"
	tests := []struct {
		name         string
		so           demoapi.SourceOptions
		env          map[string]string
		auth         func(*oauth2Auth) Authorizer // nil: the authorizers of the config
		wantRequests int
		wantErr      []string
	}{
		{"wrong api key: no refresh to try", demoapi.SourceOptions{Auth: demoapi.AuthAPIKeyQuery}, map[string]string{demoapi.EnvAPIKey: wrongKey},
			nil, 1, []string{"source src page 0: credentials refused, and auth has no new ones: status 401 Unauthorized: ", `invalid api key \"REDACTED\"`}},
		{"wrong bearer token", demoapi.SourceOptions{Auth: demoapi.AuthBearer}, map[string]string{demoapi.EnvBearerToken: wrongKey},
			nil, 1, []string{"credentials refused", "status 401"}},
		{"new token refused too", demoapi.SourceOptions{Auth: demoapi.AuthOAuth2},
			nil, func(o *oauth2Auth) Authorizer { return &badTokens{o} }, 2,
			[]string{"source src page 0: credentials refused again after a refresh: status 401 Unauthorized"}},
		{"token endpoint refuses the client", demoapi.SourceOptions{Auth: demoapi.AuthOAuth2}, map[string]string{demoapi.EnvClientSecret: wrongKey},
			nil, 0, []string{"source src page 0: authorize: token endpoint: status 401"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startDemo(t, demoapi.Options{Sources: map[string]demoapi.SourceOptions{"src": tt.so}})
			env := demoapi.Env()
			for k, v := range tt.env {
				env[k] = v
			}
			c := testClient()
			c.Auth = authorizers(t, d.cfg, env)
			if tt.auth != nil {
				c.Auth["src"] = tt.auth(c.Auth["src"].(*oauth2Auth))
			}
			_, err := walk(context.Background(), c, d.src("src"), nil)
			if !fault.IsPermanent(err) {
				t.Fatalf("Fetch = %v (%s), want a permanent error", err, fault.ClassOf(err))
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			for _, secret := range []string{wrongKey, demoapi.APIKey, demoapi.BearerToken, demoapi.ClientSecret} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error leaks a secret: %v", err)
				}
			}
			if n := d.api.Requests("src"); n != tt.wantRequests {
				t.Errorf("%d requests, want %d", n, tt.wantRequests)
			}
		})
	}
}

// badTokens gets real tokens but sends a wrong one.
type badTokens struct{ *oauth2Auth }

func (b *badTokens) Authorize(ctx context.Context, r *http.Request) error {
	if err := b.oauth2Auth.Authorize(ctx, r); err != nil {
		return err
	}
	r.Header.Set("Authorization", "Bearer not-"+b.token)
	return nil
}

func TestFetchUnauthorizedWithoutAuth(t *testing.T) {
	d := startDemo(t, demoapi.Options{Sources: map[string]demoapi.SourceOptions{"src": {Auth: demoapi.AuthBearer}}})
	src := *d.src("src")
	src.Auth = pipeline.Auth{} // the config forgot its auth section
	_, err := walk(context.Background(), testClient(), &src, nil)
	if !fault.IsPermanent(err) || !strings.Contains(err.Error(), "source src page 0: status 401 Unauthorized: ") {
		t.Fatalf("Fetch = %v (%s), want a permanent 401", err, fault.ClassOf(err))
	}
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 401 {
		t.Errorf("no *StatusError 401 in %v", err)
	}
	if n := d.api.Requests("src"); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestFetchMissingAuthorizer(t *testing.T) {
	d := startDemo(t, demoapi.Options{Sources: map[string]demoapi.SourceOptions{"src": {Auth: demoapi.AuthBasic}}})
	_, err := walk(context.Background(), testClient(), d.src("src"), nil)
	if !fault.IsPermanent(err) || !strings.Contains(err.Error(), "source src: auth type basic is configured but the client has no authorizer") {
		t.Fatalf("Fetch = %v, want a permanent error naming the missing authorizer", err)
	}
	if n := d.api.Requests("src"); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}
