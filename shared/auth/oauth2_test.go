package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
)

const (
	testClientID     = "sluice-client"
	testClientSecret = "cl1ent-s3cr3t"
)

// tokenServer is an OAuth2 token endpoint issuing tok-1, tok-2, ... in the
// order it is asked.
type tokenServer struct {
	*httptest.Server
	hits      atomic.Int32
	status    int           // non-200: fail with an OAuth2 error echoing the client secret
	expiresIn int           // 0: no expires_in
	block     chan struct{} // when set, answers wait for it to close

	mu   sync.Mutex
	form url.Values // last request's form
	user string     // last request's basic auth
	pass string
}

func newTokenServer(t *testing.T, status, expiresIn int) *tokenServer {
	t.Helper()
	ts := &tokenServer{status: status, expiresIn: expiresIn}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := ts.hits.Add(1)
		if ts.block != nil {
			<-ts.block
		}
		_ = r.ParseForm()
		user, pass, _ := r.BasicAuth()
		ts.mu.Lock()
		ts.form, ts.user, ts.pass = r.PostForm, user, pass
		ts.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if ts.status != http.StatusOK {
			w.WriteHeader(ts.status)
			json.NewEncoder(w).Encode(map[string]string{
				"error":             "invalid_client",
				"error_description": "client secret " + testClientSecret + " is wrong",
			})
			return
		}
		body := map[string]any{"access_token": fmt.Sprintf("tok-%d", n), "token_type": "bearer"}
		if ts.expiresIn > 0 {
			body["expires_in"] = ts.expiresIn
		}
		json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// clientCredentialsFor builds the authorizer of one oauth2 source through
// ForSources.
func clientCredentialsFor(t *testing.T, tokenURL string) *clientCredentials {
	t.Helper()
	cfg := &pipeline.Config{File: "p.yaml", Sources: []pipeline.Source{{Name: "orders", Auth: pipeline.Auth{
		Type:         pipeline.OAuth2ClientCredentials,
		TokenURL:     tokenURL,
		ClientID:     "env:ID",
		ClientSecret: "env:SECRET",
		Scopes:       []string{"read", "write"},
	}}}}
	as, err := ForSources(context.Background(), cfg, mapResolver{"env:ID": testClientID, "env:SECRET": testClientSecret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return as["orders"].(*clientCredentials)
}

// bearer returns the Authorization header a authorizes a request with.
func bearer(t *testing.T, a interface {
	Authorize(context.Context, *http.Request) error
}) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "https://api.example.com/v1/orders", nil)
	if err := a.Authorize(context.Background(), req); err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	return req.Header.Get("Authorization")
}

// clock is a settable time source.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestOAuth2TokenSentAndCached(t *testing.T) {
	ts := newTokenServer(t, http.StatusOK, 3600)
	a := clientCredentialsFor(t, ts.URL)
	srv, got := apiServer(t)
	send(t, srv, a.Authorize) // one request end to end
	if h := (<-got).header.Get("Authorization"); h != "Bearer tok-1" {
		t.Fatalf("API got Authorization %q, want Bearer tok-1", h)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			req := httptest.NewRequest(http.MethodGet, "https://api.example.com/", nil)
			if err := a.Authorize(context.Background(), req); err != nil {
				t.Error(err)
			} else if h := req.Header.Get("Authorization"); h != "Bearer tok-1" {
				t.Errorf("Authorization = %q, want Bearer tok-1", h)
			}
		})
	}
	wg.Wait()
	if n := ts.hits.Load(); n != 1 {
		t.Errorf("token endpoint hit %d times, want 1", n)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.form.Get("grant_type") != "client_credentials" || ts.form.Get("scope") != "read write" {
		t.Errorf("token request form = %v, want grant_type client_credentials and scope \"read write\"", ts.form)
	}
	if ts.user != testClientID || ts.pass != testClientSecret {
		t.Errorf("token request basic auth = %q:%q, want the client id and secret", ts.user, ts.pass)
	}
}

func TestOAuth2RenewsBeforeExpiry(t *testing.T) {
	// The library renews 10s before expiry: a token for 11s is good for 1s.
	ts := newTokenServer(t, http.StatusOK, 11)
	a := clientCredentialsFor(t, ts.URL)
	if h1, h2 := bearer(t, a), bearer(t, a); h1 != "Bearer tok-1" || h2 != "Bearer tok-1" {
		t.Fatalf("first two requests sent %q, %q; want tok-1 twice", h1, h2)
	}
	time.Sleep(1200 * time.Millisecond)
	if h := bearer(t, a); h != "Bearer tok-2" {
		t.Fatalf("after the token's life, sent %q, want Bearer tok-2", h)
	}
	if n := ts.hits.Load(); n != 2 {
		t.Errorf("token endpoint hit %d times, want 2", n)
	}
}

func TestOAuth2RefreshAfter401(t *testing.T) {
	ts := newTokenServer(t, http.StatusOK, 3600)
	a := clientCredentialsFor(t, ts.URL)
	var clk clock
	clk.Advance(time.Hour)
	a.now = clk.Now
	ctx := context.Background()

	if h := bearer(t, a); h != "Bearer tok-1" {
		t.Fatalf("sent %q, want Bearer tok-1", h)
	}

	sent := func() *http.Request {
		req := httptest.NewRequest(http.MethodGet, "https://api.example.com/", nil)
		if err := a.Authorize(ctx, req); err != nil {
			t.Fatal(err)
		}
		return req
	}

	// A 401 on the token in use, though it was fetched just now (an API
	// that revoked it): drop it, fetch another.
	first := sent()
	if ok, err := a.Refresh(ctx, first); !ok || err != nil {
		t.Fatalf("Refresh = %v, %v; want true, nil", ok, err)
	}
	if h, n := bearer(t, a), ts.hits.Load(); h != "Bearer tok-2" || n != 2 {
		t.Fatalf("after Refresh: sent %q after %d fetches; want tok-2 after 2", h, n)
	}

	// A late 401 for the old token: the newer one is kept, no fetch.
	if ok, err := a.Refresh(ctx, first); !ok || err != nil {
		t.Fatalf("Refresh of a replaced token = %v, %v; want true, nil", ok, err)
	}
	if h, n := bearer(t, a), ts.hits.Load(); h != "Bearer tok-2" || n != 2 {
		t.Fatalf("after a late Refresh: sent %q after %d fetches; want tok-2 after 2", h, n)
	}

	// Many requests rejected at once with the same token: one fetch.
	second := sent()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if ok, err := a.Refresh(ctx, second); !ok || err != nil {
				t.Errorf("concurrent Refresh = %v, %v; want true, nil", ok, err)
			}
		})
	}
	wg.Wait()
	if h, n := bearer(t, a), ts.hits.Load(); h != "Bearer tok-3" || n != 3 {
		t.Fatalf("after concurrent Refresh: sent %q after %d fetches; want tok-3 after 3", h, n)
	}

	// Without the rejected request, a token younger than a second is kept.
	if ok, err := a.Refresh(ctx, nil); !ok || err != nil {
		t.Fatalf("Refresh(nil) = %v, %v", ok, err)
	}
	if n := ts.hits.Load(); n != 3 {
		t.Fatalf("Refresh(nil) on a fresh token fetched again (%d fetches)", n)
	}
	clk.Advance(2 * time.Second)
	if ok, err := a.Refresh(ctx, nil); !ok || err != nil || ts.hits.Load() != 4 {
		t.Fatalf("Refresh(nil) on an older token = %v, %v after %d fetches; want a fetch", ok, err, ts.hits.Load())
	}
}

func TestOAuth2TokenEndpointErrors(t *testing.T) {
	tests := []struct {
		status int
		want   fault.Class
	}{
		{http.StatusBadRequest, fault.Stop},
		{http.StatusUnauthorized, fault.Stop},
		{http.StatusForbidden, fault.Stop},
		{http.StatusTooManyRequests, fault.Retry},
		{http.StatusInternalServerError, fault.Retry},
		{http.StatusServiceUnavailable, fault.Retry},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			ts := newTokenServer(t, tt.status, 3600)
			a := clientCredentialsFor(t, ts.URL)
			req := httptest.NewRequest(http.MethodGet, "https://api.example.com/", nil)
			authErr := a.Authorize(context.Background(), req)
			ok, refreshErr := a.Refresh(context.Background(), req)
			if ok {
				t.Error("Refresh returned true without a token")
			}
			for name, err := range map[string]error{"Authorize": authErr, "Refresh": refreshErr} {
				if err == nil {
					t.Fatalf("%s: no error from a %d token endpoint", name, tt.status)
				}
				if got := fault.ClassOf(err); got != tt.want {
					t.Errorf("%s: class %v, want %v (%v)", name, got, tt.want, err)
				}
				msg := err.Error()
				if !strings.Contains(msg, fmt.Sprint(tt.status)) || !strings.Contains(msg, "invalid_client") || !strings.Contains(msg, "orders") {
					t.Errorf("%s: error %q should name the source, status and OAuth2 error", name, msg)
				}
				if strings.Contains(msg, testClientSecret) {
					t.Errorf("%s: error %q leaks the client secret", name, msg)
				}
			}
			if h := req.Header.Get("Authorization"); h != "" {
				t.Errorf("failed Authorize set Authorization %q", h)
			}
		})
	}
}

func TestOAuth2TokenEndpointDown(t *testing.T) {
	ts := newTokenServer(t, http.StatusOK, 3600)
	ts.Close()
	a := clientCredentialsFor(t, ts.URL)
	err := a.Authorize(context.Background(), httptest.NewRequest(http.MethodGet, "https://api.example.com/", nil))
	if err == nil || fault.ClassOf(err) != fault.Retry {
		t.Fatalf("err = %v (%v), want a retryable error", err, fault.ClassOf(err))
	}
}

func TestOAuth2WaitHonoursContext(t *testing.T) {
	ts := newTokenServer(t, http.StatusOK, 3600)
	ts.block = make(chan struct{})
	a := clientCredentialsFor(t, ts.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err := a.Authorize(ctx, httptest.NewRequest(http.MethodGet, "https://api.example.com/", nil))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the caller's deadline", err)
	}
	// The fetch went on without the caller; the next request gets its token.
	close(ts.block)
	if h := bearer(t, a); h != "Bearer tok-1" {
		t.Fatalf("sent %q, want Bearer tok-1", h)
	}
	if n := ts.hits.Load(); n != 1 {
		t.Errorf("token endpoint hit %d times, want 1", n)
	}
}

func TestOAuth2DoesNotPrintSecrets(t *testing.T) {
	a := clientCredentialsFor(t, "https://auth.example.com/token")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(verb, a); strings.Contains(out, testClientSecret) {
			t.Errorf("Sprintf(%s) = %q prints the client secret", verb, out)
		}
	}
}

// A 2xx token response without a token is the endpoint's fault and will be
// the same next time: permanent.
func TestOAuth2AnswerWithoutATokenIsPermanent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"token_type":"bearer","expires_in":3600}`))
	}))
	defer srv.Close()
	a := clientCredentialsFor(t, srv.URL)
	err := a.Authorize(context.Background(), httptest.NewRequest(http.MethodGet, "https://api.example.com/", nil))
	if err == nil || !fault.IsPermanent(err) || strings.Contains(err.Error(), testClientSecret) {
		t.Fatalf("Authorize = %v, want a permanent error without the secret", err)
	}
}
