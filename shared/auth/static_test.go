package auth

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/shared/pipeline"
)

// mapResolver resolves references from a map; a missing one is an error
// naming the reference.
type mapResolver map[pipeline.Secret]string

func (m mapResolver) Resolve(_ context.Context, ref pipeline.Secret) (string, error) {
	v, ok := m[ref]
	if !ok {
		return "", fmt.Errorf("secret %s: not found", ref)
	}
	return v, nil
}

// seen is what an API server received.
type seen struct {
	header http.Header
	query  string
}

func apiServer(t *testing.T) (*httptest.Server, chan seen) {
	t.Helper()
	got := make(chan seen, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{header: r.Header.Clone(), query: r.URL.RawQuery}
		fmt.Fprint(w, "[]")
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// send authorizes a GET of srv's /v1/orders?day=2024-01-02&x=a%2Cb with a
// and sends it.
func send(t *testing.T, srv *httptest.Server, authorize func(context.Context, *http.Request) error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/orders?day=2024-01-02&x=a%2Cb", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := authorize(context.Background(), req); err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestStaticKinds(t *testing.T) {
	secrets := mapResolver{"env:KEY": "k3y s3cr3t&=", "env:TOKEN": "t0ken", "env:USER": "alice", "env:PASS": "p@ss:word"}
	tests := []struct {
		name       string
		auth       pipeline.Auth
		wantHeader map[string]string // header → exact value
		wantQuery  string            // exact raw query
	}{
		{
			name:       "api_key in header by default",
			auth:       pipeline.Auth{Type: pipeline.APIKey, Name: "X-Api-Key", Key: "env:KEY"},
			wantHeader: map[string]string{"X-Api-Key": "k3y s3cr3t&="},
			wantQuery:  "day=2024-01-02&x=a%2Cb",
		},
		{
			name:       "api_key in header",
			auth:       pipeline.Auth{Type: pipeline.APIKey, In: "header", Name: "api-key", Key: "env:KEY"},
			wantHeader: map[string]string{"Api-Key": "k3y s3cr3t&="},
			wantQuery:  "day=2024-01-02&x=a%2Cb",
		},
		{
			name:       "api_key in query keeps the rest of the query as it was",
			auth:       pipeline.Auth{Type: pipeline.APIKey, In: "query", Name: "api_key", Key: "env:KEY"},
			wantHeader: map[string]string{"Authorization": ""},
			wantQuery:  "day=2024-01-02&x=a%2Cb&api_key=k3y+s3cr3t%26%3D",
		},
		{
			name:      "api_key in query replaces a parameter of the same name",
			auth:      pipeline.Auth{Type: pipeline.APIKey, In: "query", Name: "day", Key: "env:KEY"},
			wantQuery: "day=k3y+s3cr3t%26%3D&x=a%2Cb",
		},
		{
			name:       "bearer",
			auth:       pipeline.Auth{Type: pipeline.Bearer, Token: "env:TOKEN"},
			wantHeader: map[string]string{"Authorization": "Bearer t0ken"},
			wantQuery:  "day=2024-01-02&x=a%2Cb",
		},
		{
			name:       "basic",
			auth:       pipeline.Auth{Type: pipeline.Basic, Username: "env:USER", Password: "env:PASS"},
			wantHeader: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:p@ss:word"))},
			wantQuery:  "day=2024-01-02&x=a%2Cb",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &pipeline.Config{File: "p.yaml", Sources: []pipeline.Source{{Name: "orders", Auth: tt.auth}}}
			as, err := ForSources(context.Background(), cfg, secrets, nil)
			if err != nil {
				t.Fatal(err)
			}
			a := as["orders"]
			if a == nil {
				t.Fatal("no authorizer for orders")
			}
			srv, got := apiServer(t)
			send(t, srv, a.Authorize)
			s := <-got
			for h, want := range tt.wantHeader {
				if v := s.header.Get(h); v != want {
					t.Errorf("header %s = %q, want %q", h, v, want)
				}
			}
			if s.query != tt.wantQuery {
				t.Errorf("query = %q, want %q", s.query, tt.wantQuery)
			}
			if q, _ := url.ParseQuery(s.query); tt.auth.In == "query" && q.Get(tt.auth.Name) != "k3y s3cr3t&=" {
				t.Errorf("query parameter %s decodes to %q", tt.auth.Name, q.Get(tt.auth.Name))
			}
			if ok, err := a.Refresh(context.Background(), nil); ok || err != nil {
				t.Errorf("Refresh = %v, %v; want false, nil for a fixed credential", ok, err)
			}
			for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
				if out := fmt.Sprintf(verb, a); strings.Contains(out, "s3cr3t") || strings.Contains(out, "t0ken") || strings.Contains(out, "p@ss") {
					t.Errorf("Sprintf(%s) = %q prints the credential", verb, out)
				}
			}
		})
	}
}
