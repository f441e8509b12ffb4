package service

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The init error goes to the Runtime API as the document Lambda defines,
// with its type in the header too; a long reason is cut.
func TestReportInitError(t *testing.T) {
	var (
		path, header string
		doc          struct {
			ErrorMessage string   `json:"errorMessage"`
			ErrorType    string   `json:"errorType"`
			StackTrace   []string `json:"stackTrace"`
		}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, header = r.URL.Path, r.Header.Get("Lambda-Runtime-Function-Error-Type")
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Errorf("body %q: %v", b, err)
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	api := strings.TrimPrefix(srv.URL, "http://")

	cause := errors.New("SLUICE_WORKERS: 0, want 1..100 " + strings.Repeat("x", 2*maxInitError))
	if err := reportInitError(context.Background(), api, cause); err != nil {
		t.Fatal(err)
	}
	if path != "/2018-06-01/runtime/init/error" || header != InitErrorType || doc.ErrorType != InitErrorType {
		t.Fatalf("posted to %s with type %q / %q", path, header, doc.ErrorType)
	}
	if !strings.HasPrefix(doc.ErrorMessage, "SLUICE_WORKERS: 0, want 1..100") || len(doc.ErrorMessage) > maxInitError+len("…(99999 bytes)") {
		t.Fatalf("reason %d bytes: %.60q…", len(doc.ErrorMessage), doc.ErrorMessage)
	}

	// A Runtime API that refuses is an error the caller can print.
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) }))
	defer refuse.Close()
	if err := reportInitError(context.Background(), strings.TrimPrefix(refuse.URL, "http://"), cause); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("refused report = %v, want the status", err)
	}
}
