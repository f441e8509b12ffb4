package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/sluice-data/sluice/shared/logging"
)

// InitErrorType is the error type a service reports when it cannot start
// as a Lambda function.
const InitErrorType = "Runtime.InitError"

// maxInitError bounds the reported reason, like a log line's.
const maxInitError = 4096

// reportInitError tells the Lambda Runtime API at api (the host:port of
// AWS_LAMBDA_RUNTIME_API) why the function could not start, with a POST to
// /2018-06-01/runtime/init/error, so that Lambda answers the invocation
// that started it with the reason rather than only "Runtime exited".
// Errors of a service's start-up never hold a secret's value (the
// configuration loaders name references, never values).
func reportInitError(ctx context.Context, api string, cause error) error {
	body, err := json.Marshal(struct {
		ErrorMessage string   `json:"errorMessage"`
		ErrorType    string   `json:"errorType"`
		StackTrace   []string `json:"stackTrace"`
	}{logging.Truncate(cause.Error(), maxInitError), InitErrorType, []string{}})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+api+"/2018-06-01/runtime/init/error", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Lambda-Runtime-Function-Error-Type", InitErrorType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("report the init error: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("report the init error: the Runtime API answered %s", resp.Status)
	}
	return nil
}
