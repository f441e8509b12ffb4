package pipeline

import (
	"errors"
	"regexp"
	"strings"
)

// The schemes of a Secret reference.
const (
	SecretEnv            = "env"
	SecretSecretsManager = "secretsmanager"
	SecretSSM            = "ssm"
)

var (
	envNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	smNameRE    = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
	smARNRE     = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$`)
	ssmNameRE   = regexp.MustCompile(`^/[A-Za-z0-9_.\-/]+$`)
	errNotARef  = errors.New("must be a secret reference (env:, secretsmanager:, ssm:), not a value")
	errEmptyRef = errors.New("empty secret reference (want env:NAME, secretsmanager:NAME-OR-ARN[#KEY] or ssm:/NAME)")
)

// Parse splits the reference into its scheme (SecretEnv, SecretSecretsManager
// or SecretSSM), the name of the secret (variable, secret name or ARN,
// parameter name) and, for secretsmanager only, the optional key of a JSON
// secret. Its errors never quote the reference: a value written where a
// reference belongs is itself a secret.
func (s Secret) Parse() (scheme, name, key string, err error) {
	if s == "" {
		return "", "", "", errEmptyRef
	}
	scheme, rest, ok := strings.Cut(string(s), ":")
	if !ok {
		return "", "", "", errNotARef
	}
	switch scheme {
	case SecretEnv:
		if !envNameRE.MatchString(rest) {
			return "", "", "", errors.New("env: wants an environment variable name: letters, digits and _, not starting with a digit")
		}
		return scheme, rest, "", nil
	case SecretSecretsManager:
		name, key, hasKey := strings.Cut(rest, "#")
		switch {
		case !smNameRE.MatchString(name) && !smARNRE.MatchString(name):
			return "", "", "", errors.New("secretsmanager: wants a secret name (up to 512 of A-Z, a-z, 0-9, /_+=.@-) or a secret ARN, then an optional #KEY")
		case hasKey && key == "":
			return "", "", "", errors.New("secretsmanager: empty key after \"#\"")
		}
		return scheme, name, key, nil
	case SecretSSM:
		if !ssmNameRE.MatchString(rest) || len(rest) > 2048 {
			return "", "", "", errors.New("ssm: wants a parameter name starting with \"/\" (A-Z, a-z, 0-9, _.-/)")
		}
		return scheme, rest, "", nil
	default:
		return "", "", "", errNotARef
	}
}
