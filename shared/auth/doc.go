// Package auth turns the auth section of each pipeline source into a
// source.Authorizer, the credentials the HTTP client adds to every request.
//
// ForSources resolves every secret reference of a config once, at startup,
// so that a missing or unreadable secret stops the service before it takes
// any work — reported as a *pipeline.ValidationError that names the config
// file, the field and the reference, like any other config problem — rather
// than failing every run of that source later. Values never appear in
// errors, and the authorizers do not print them either.
//
// The kinds:
//
//	api_key                    the key in a header (default) or a query parameter
//	bearer                     Authorization: Bearer <token>
//	basic                      HTTP basic auth
//	oauth2_client_credentials  a token from the token endpoint, cached, renewed
//	                           shortly before it expires and after a 401
//
// Token endpoint failures are classified with package fault: a 4xx (bad
// client credentials, unknown scope) is permanent, a 5xx, 408, 429 or a
// network failure retryable.
package auth
