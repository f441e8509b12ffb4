package auth

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/secrets"
)

func TestForSourcesMissingEnvSecret(t *testing.T) {
	t.Setenv("SLUICE_TEST_TOKEN", "t0ken-value")
	t.Setenv("SLUICE_TEST_CLIENT_ID", "client-id-value")
	cfg := &pipeline.Config{File: "pipelines/prod.yaml", Sources: []pipeline.Source{
		{Name: "open"},
		{Name: "orders", Auth: pipeline.Auth{Type: pipeline.Bearer, Token: "env:SLUICE_TEST_TOKEN"}},
		{Name: "customers", Auth: pipeline.Auth{
			Type:         pipeline.OAuth2ClientCredentials,
			TokenURL:     "https://auth.example.com/token",
			ClientID:     "env:SLUICE_TEST_CLIENT_ID",
			ClientSecret: "env:SLUICE_TEST_MISSING_SECRET",
		}},
	}}
	as, err := ForSources(context.Background(), cfg, secrets.NewWithClients(nil, nil), nil)
	if as != nil {
		t.Errorf("ForSources returned authorizers %v with an error", as)
	}
	var verr *pipeline.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v (%T), want *pipeline.ValidationError", err, err)
	}
	if verr.File != "pipelines/prod.yaml" {
		t.Errorf("File = %q, want the config file", verr.File)
	}
	if len(verr.Problems) != 1 {
		t.Fatalf("problems = %+v, want exactly one", verr.Problems)
	}
	p := verr.Problems[0]
	if p.Path != "sources[2].auth.client_secret" {
		t.Errorf("Path = %q, want sources[2].auth.client_secret", p.Path)
	}
	if !strings.Contains(p.Reason, "env:SLUICE_TEST_MISSING_SECRET") || !strings.Contains(p.Reason, "not set") {
		t.Errorf("Reason = %q, want the reference and why", p.Reason)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "pipelines/prod.yaml: sources[2].auth.client_secret: ") {
		t.Errorf("error %q should start with file and field", msg)
	}
	for _, v := range []string{"t0ken-value", "client-id-value"} {
		if strings.Contains(msg, v) {
			t.Errorf("error %q leaks %q", msg, v)
		}
	}
}

func TestForSourcesProblems(t *testing.T) {
	r := mapResolver{"env:OK": "value-ok"}
	tests := []struct {
		name      string
		auth      pipeline.Auth
		wantPaths []string
	}{
		{"api_key without name or key", pipeline.Auth{Type: pipeline.APIKey}, []string{"sources[0].auth.name", "sources[0].auth.key"}},
		{"api_key in body", pipeline.Auth{Type: pipeline.APIKey, In: "body", Name: "k", Key: "env:OK"}, []string{"sources[0].auth.in"}},
		{"bearer unreadable", pipeline.Auth{Type: pipeline.Bearer, Token: "ssm:/nope"}, []string{"sources[0].auth.token"}},
		{"basic both missing", pipeline.Auth{Type: pipeline.Basic, Username: "env:NO_USER", Password: "env:NO_PASS"}, []string{"sources[0].auth.username", "sources[0].auth.password"}},
		{"oauth2 without token_url", pipeline.Auth{Type: pipeline.OAuth2ClientCredentials, ClientID: "env:OK", ClientSecret: "env:OK"}, []string{"sources[0].auth.token_url"}},
		{"oauth2 relative token_url", pipeline.Auth{Type: pipeline.OAuth2ClientCredentials, TokenURL: "/token", ClientID: "env:OK", ClientSecret: "env:OK"}, []string{"sources[0].auth.token_url"}},
		{"unknown type", pipeline.Auth{Type: "digest"}, []string{"sources[0].auth.type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &pipeline.Config{File: "p.yaml", Sources: []pipeline.Source{{Name: "s", Auth: tt.auth}}}
			_, err := ForSources(context.Background(), cfg, r, nil)
			var verr *pipeline.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("err = %v, want *pipeline.ValidationError", err)
			}
			var paths []string
			for _, p := range verr.Problems {
				paths = append(paths, p.Path)
				if strings.Contains(p.Reason, "value-ok") {
					t.Errorf("reason %q leaks a resolved value", p.Reason)
				}
			}
			if strings.Join(paths, " ") != strings.Join(tt.wantPaths, " ") {
				t.Errorf("problem paths = %v, want %v", paths, tt.wantPaths)
			}
		})
	}
}

func TestForSourcesOnlySourcesWithAuth(t *testing.T) {
	cfg := &pipeline.Config{File: "p.yaml", Sources: []pipeline.Source{
		{Name: "open"},
		{Name: "orders", Auth: pipeline.Auth{Type: pipeline.Bearer, Token: "env:T"}},
		{Name: "customers", Auth: pipeline.Auth{Type: pipeline.OAuth2ClientCredentials, TokenURL: "https://auth.example.com/token", ClientID: "env:T", ClientSecret: "env:T"}},
	}}
	as, err := ForSources(context.Background(), cfg, mapResolver{"env:T": "t"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || as["orders"] == nil || as["customers"] == nil {
		t.Fatalf("authorizers = %v, want orders and customers only", as)
	}
}

func TestForSourcesCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cfg := &pipeline.Config{File: "p.yaml", Sources: []pipeline.Source{{Name: "orders", Auth: pipeline.Auth{Type: pipeline.Bearer, Token: "env:T"}}}}
	_, err := ForSources(ctx, cfg, mapResolver{}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
