package demoapi

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

// AuthKind is the credentials a source requires.
type AuthKind string

// The auth kinds.
const (
	AuthNone         AuthKind = ""
	AuthAPIKeyHeader AuthKind = "api_key_header" // X-API-Key: APIKey
	AuthAPIKeyQuery  AuthKind = "api_key_query"  // ?api_key=APIKey
	AuthBearer       AuthKind = "bearer"         // Authorization: Bearer BearerToken
	AuthBasic        AuthKind = "basic"          // Username, Password
	// AuthOAuth2 wants a token from POST /oauth/token (client credentials
	// ClientID and ClientSecret) as a bearer token.
	AuthOAuth2 AuthKind = "oauth2"
)

// The demo credentials, which the server accepts. The configs of
// PipelineYAML refer to them as env: secrets named by the Env* constants;
// Env returns them as an environment.
const (
	APIKey       = "demo-api-key-7c1f2b"
	BearerToken  = "demo-bearer-token-5e2a90"
	Username     = "demo-user"
	Password     = "demo-password-9b3d11"
	ClientID     = "demo-client"
	ClientSecret = "demo-client-secret-4f8e66"

	EnvAPIKey       = "DEMOAPI_API_KEY"
	EnvBearerToken  = "DEMOAPI_BEARER_TOKEN"
	EnvUsername     = "DEMOAPI_USERNAME"
	EnvPassword     = "DEMOAPI_PASSWORD"
	EnvClientID     = "DEMOAPI_CLIENT_ID"
	EnvClientSecret = "DEMOAPI_CLIENT_SECRET"

	// APIKeyHeader and APIKeyParam carry the api key.
	APIKeyHeader = "X-API-Key"
	APIKeyParam  = "api_key"
)

// Env returns the environment variables the secrets of PipelineYAML's
// configs refer to, with the demo credentials as values.
func Env() map[string]string {
	return map[string]string{
		EnvAPIKey: APIKey, EnvBearerToken: BearerToken, EnvUsername: Username,
		EnvPassword: Password, EnvClientID: ClientID, EnvClientSecret: ClientSecret,
	}
}

type token struct {
	expires time.Time
	uses    int
}

// TokenRequests returns how many tokens the token endpoint issued.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenRequests
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// authorized checks the credentials of a data request for so and answers
// 401 if they are wrong.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request, so SourceOptions) bool {
	switch so.Auth {
	case AuthNone:
		return true
	case AuthAPIKeyHeader:
		if equal(r.Header.Get(APIKeyHeader), APIKey) {
			return true
		}
		return unauthorized(w, "", "missing or invalid "+APIKeyHeader+" header")
	case AuthAPIKeyQuery:
		got := r.URL.Query().Get(APIKeyParam)
		if equal(got, APIKey) {
			return true
		}
		// Some APIs quote the key they refused: a client must not pass
		// that on to its logs.
		return unauthorized(w, "", fmt.Sprintf("invalid api key %q", got))
	case AuthBearer:
		if equal(r.Header.Get("Authorization"), "Bearer "+BearerToken) {
			return true
		}
		return unauthorized(w, `Bearer realm="demo"`, "missing or invalid bearer token")
	case AuthBasic:
		if u, p, ok := r.BasicAuth(); ok && equal(u, Username) && equal(p, Password) {
			return true
		}
		return unauthorized(w, `Basic realm="demo"`, "missing or invalid user name or password")
	case AuthOAuth2:
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if ok && s.useToken(tok, so.TokenUses) {
			return true
		}
		return unauthorized(w, `Bearer error="invalid_token"`, "missing, expired or revoked token")
	default:
		writeError(w, http.StatusInternalServerError, "unknown auth kind "+string(so.Auth))
		return false
	}
}

// useToken counts one use of tok and reports whether it is still good.
func (s *Server) useToken(tok string, maxUses int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[tok]
	if !ok || !time.Now().Before(t.expires) {
		return false
	}
	t.uses++
	return maxUses <= 0 || t.uses <= maxUses
}

func unauthorized(w http.ResponseWriter, challenge, msg string) bool {
	if challenge != "" {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	writeError(w, http.StatusUnauthorized, msg)
	return false
}

// serveToken is an OAuth2 token endpoint for the client credentials grant
// (RFC 6749 section 4.4); the client authenticates with HTTP basic auth or
// with client_id and client_secret in the form.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if !equal(id, ClientID) || !equal(secret, ClientSecret) {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	s.mu.Lock()
	s.tokenRequests++
	tok := fmt.Sprintf("demo-token-%06d", s.tokenRequests)
	ttl := s.tokenTTL
	s.tokens[tok] = &token{expires: time.Now().Add(ttl)}
	s.mu.Unlock()
	body, _ := json.Marshal(map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": int(math.Ceil(ttl.Seconds())),
	})
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, body)
}

func oauthError(w http.ResponseWriter, status int, code string) {
	body, _ := json.Marshal(map[string]string{"error": code})
	writeJSON(w, status, body)
}
