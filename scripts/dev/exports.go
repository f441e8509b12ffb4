package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// exports are the variables that point sluicectl and the AWS CLI at one dev
// session, KEY=VALUE in order: the emulators' endpoints, region and local
// credentials, the resources, the pipeline file, and PATH with the built
// binaries first.
func exports(endpoints devstack.Endpoints, res devstack.Resources, pipelineFile, bin string) []string {
	return slices.Concat(devstack.Env(endpoints), res.Env(), []string{
		"SLUICE_PIPELINE_FILE=" + pipelineFile,
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
	})
}

// ambientAWS are the settings of a real AWS account a developer's shell
// may hold that would override or break the local credentials: a profile
// (an unknown one stops the SDK at start-up), a session token sent beside
// the local keys, a role to assume. The services start without them, and
// the export lines unset them.
var ambientAWS = []string{
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
	"AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE",
}

// withoutAmbientAWS removes ambientAWS from this process's environment,
// which the services inherit.
func withoutAmbientAWS() {
	for _, k := range ambientAWS {
		_ = os.Unsetenv(k) // fails only for an invalid name
	}
}

// writeExports writes a line unsetting ambientAWS, then env as shell
// export lines, each value quoted.
func writeExports(w io.Writer, env []string) {
	fmt.Fprintf(w, "unset %s\n", strings.Join(ambientAWS, " "))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(w, "export %s=%s\n", k, shellQuote(v))
	}
}

// shellQuote quotes s for a POSIX shell: in single quotes, each single
// quote in s closed, escaped and reopened.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// examples are the commands that start runs, for the first source of cfg
// and its latest window due at now: one input by sluicectl and the same one
// by the AWS CLI, and a schedule trigger for every source.
func examples(cfg *pipeline.Config, now time.Time) []string {
	src := cfg.Sources[0].Name
	window := "<window>"
	if due, err := cfg.Expand([]string{src}, time.Time{}, time.Time{}, now); err == nil && len(due) > 0 {
		window = due[len(due)-1].Window
	}
	body, _ := json.Marshal(contracts.NewInput(src, window, contracts.TriggerManual, false)) // plain strings: cannot fail
	return []string{
		fmt.Sprintf("sluicectl trigger --source %s --window %s", src, window),
		fmt.Sprintf(`aws sqs send-message --queue-url "$SLUICE_INPUTS_QUEUE_URL" --message-body %s`, shellQuote(string(body))),
		"sluicectl schedule    # every source's latest due windows, as the deployment's EventBridge schedule asks",
		fmt.Sprintf(`aws s3 ls --recursive "s3://$SLUICE_BUCKET/current/source=%s/"    # the partitions published (their pointers)`, src),
	}
}
