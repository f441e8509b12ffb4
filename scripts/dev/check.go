package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/secrets"
)

// checkPipeline loads the pipeline config at path and checks, before
// anything is started, what the services would refuse at start-up on the
// local stack: the config itself (every problem, with its line), and each
// credential its auth sections reference. An env: reference must name a
// variable of the caller's environment (the services inherit it); a
// secretsmanager: or ssm: reference needs the service's endpoint
// (AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL_SSM), since the
// local stack has neither and the services run with its credentials.
func checkPipeline(ctx context.Context, path string) (*pipeline.Config, error) {
	cfg, err := pipeline.Load(path)
	if err != nil {
		return nil, err
	}
	// Only env: references are resolved here, which never calls AWS.
	resolver := secrets.NewWithClients(nil, nil)
	var problems []error
	for _, ref := range secretRefs(cfg) {
		scheme, _, _, err := ref.secret.Parse()
		if err != nil {
			continue // Load refuses an invalid reference
		}
		switch scheme {
		case pipeline.SecretEnv:
			if _, err := resolver.Resolve(ctx, ref.secret); err != nil {
				problems = append(problems, fmt.Errorf("%s: %w (export it in the shell you run make dev from)", ref.path, err))
			}
		case pipeline.SecretSecretsManager, pipeline.SecretSSM:
			endpoint := map[string]string{pipeline.SecretSecretsManager: "AWS_ENDPOINT_URL_SECRETS_MANAGER", pipeline.SecretSSM: "AWS_ENDPOINT_URL_SSM"}[scheme]
			if os.Getenv(endpoint) == "" {
				problems = append(problems, fmt.Errorf("%s: a %s: reference, and the local stack has no %s: use an env: reference for make dev, or set %s to a local one", ref.path, scheme, scheme, endpoint))
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %w", path, errors.Join(problems...))
	}
	return cfg, nil
}

// secretRef is one credential reference of a config and where it is.
type secretRef struct {
	path   string // sources[i].auth.<field>
	secret pipeline.Secret
}

// secretRefs lists every non-empty Secret of every source's auth section,
// field by field as pipeline.Auth declares them.
func secretRefs(cfg *pipeline.Config) []secretRef {
	var refs []secretRef
	secretType := reflect.TypeFor[pipeline.Secret]()
	for i, src := range cfg.Sources {
		v := reflect.ValueOf(src.Auth)
		for j := range v.NumField() {
			f := v.Type().Field(j)
			if f.Type != secretType || v.Field(j).String() == "" {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			refs = append(refs, secretRef{
				path:   fmt.Sprintf("sources[%d].auth.%s (source %s)", i, name, src.Name),
				secret: pipeline.Secret(v.Field(j).String()),
			})
		}
	}
	return refs
}
