package auth

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/secrets"
	"github.com/sluice-data/sluice/shared/source"
)

// Resolver resolves a secret reference to its value. Its errors must name
// the reference, never the value: they end up in config errors and logs.
// *secrets.Resolver implements it.
type Resolver interface {
	Resolve(ctx context.Context, ref pipeline.Secret) (string, error)
}

var _ Resolver = (*secrets.Resolver)(nil)

// ForSources resolves the credentials of every source of cfg and returns an
// Authorizer per source name for the sources that have auth; a source
// without auth has no entry. OAuth2 tokens are fetched with httpClient (nil:
// http.DefaultClient) when first needed, not here.
//
// If any secret cannot be resolved, or an auth section is incomplete, the
// error is a *pipeline.ValidationError for cfg.File with one problem per
// field, such as sources[2].auth.client_secret. If ctx ends first, the
// error is ctx's.
func ForSources(ctx context.Context, cfg *pipeline.Config, r Resolver, httpClient *http.Client) (map[string]source.Authorizer, error) {
	out := make(map[string]source.Authorizer)
	var problems []pipeline.Problem
	for i := range cfg.Sources {
		s := &cfg.Sources[i]
		if s.Auth.Type == pipeline.NoAuth {
			continue
		}
		b := builder{ctx: ctx, r: r, path: fmt.Sprintf("sources[%d].auth", i), auth: &s.Auth}
		a := b.build(s.Name, httpClient)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("resolve source credentials: %w", err)
		}
		if len(b.problems) > 0 {
			problems = append(problems, b.problems...)
			continue
		}
		out[s.Name] = a
	}
	if len(problems) > 0 {
		return nil, &pipeline.ValidationError{File: cfg.File, Problems: problems}
	}
	return out, nil
}

// builder builds the Authorizer of one source, collecting a problem for
// every field it cannot use.
type builder struct {
	ctx      context.Context
	r        Resolver
	path     string // sources[i].auth
	auth     *pipeline.Auth
	problems []pipeline.Problem
}

func (b *builder) problem(field, format string, args ...any) {
	b.problems = append(b.problems, pipeline.Problem{Path: b.path + "." + field, Reason: fmt.Sprintf(format, args...)})
}

// secret resolves the reference in field; on failure it records a problem
// and returns "".
func (b *builder) secret(field string, ref pipeline.Secret) string {
	if ref == "" {
		b.problem(field, "required for auth type %s", b.auth.Type)
		return ""
	}
	v, err := b.r.Resolve(b.ctx, ref)
	if err != nil {
		b.problem(field, "%v", err)
		return ""
	}
	return v
}

// required records a problem if the plain (non-secret) field is empty.
func (b *builder) required(field, value string) {
	if value == "" {
		b.problem(field, "required for auth type %s", b.auth.Type)
	}
}

// build returns the Authorizer; it is meaningless if b.problems is not empty.
func (b *builder) build(sourceName string, httpClient *http.Client) source.Authorizer {
	a := b.auth
	switch a.Type {
	case pipeline.APIKey:
		b.required("name", a.Name)
		key := b.secret("key", a.Key)
		switch a.In {
		case "", "header":
			return &header{kind: "api_key", name: a.Name, value: key}
		case "query":
			return &queryParam{name: a.Name, value: key}
		default:
			b.problem("in", "unknown value %q (want header or query)", a.In)
			return nil
		}
	case pipeline.Bearer:
		return &header{kind: "bearer", name: "Authorization", value: "Bearer " + b.secret("token", a.Token)}
	case pipeline.Basic:
		user, pass := b.secret("username", a.Username), b.secret("password", a.Password)
		return &header{kind: "basic", name: "Authorization", value: "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
	case pipeline.OAuth2ClientCredentials:
		if a.TokenURL == "" {
			b.required("token_url", a.TokenURL)
		} else if u, err := url.Parse(a.TokenURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			b.problem("token_url", "want an absolute http or https URL")
		}
		conf := &clientcredentials.Config{
			ClientID:     b.secret("client_id", a.ClientID),
			ClientSecret: b.secret("client_secret", a.ClientSecret),
			TokenURL:     a.TokenURL,
			Scopes:       a.Scopes,
		}
		return newClientCredentials(b.ctx, sourceName, conf, httpClient)
	default:
		b.problem("type", "unknown auth type %q (want api_key, bearer, basic or oauth2_client_credentials)", a.Type)
		return nil
	}
}
