package main

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	var calls []string
	srv := httptest.NewServer(newHandler("210987654321", func(format string, args ...any) { calls = append(calls, format) }))
	defer srv.Close()

	post := func(t *testing.T, body string, header map[string]string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}

	t.Run("query GetCallerIdentity", func(t *testing.T) {
		// What the AWS SDK for Go v2 sends for sts:GetCallerIdentity.
		code, body := post(t, url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}.Encode(), form)
		if code != http.StatusOK {
			t.Fatalf("status %d: %s", code, body)
		}
		var got queryResponse
		if err := xml.Unmarshal(body, &got); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		if got.Result.Account != "210987654321" || got.Result.Arn != "arn:aws:iam::210987654321:user/sluice-plan" || got.Result.UserID == "" {
			t.Errorf("identity %+v", got.Result)
		}
		if !strings.Contains(string(body), `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">`) {
			t.Errorf("root element is not the STS namespace's GetCallerIdentityResponse: %s", body)
		}
	})
	t.Run("json GetCallerIdentity", func(t *testing.T) {
		code, body := post(t, "{}", map[string]string{"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AWSSecurityTokenServiceV20110615.GetCallerIdentity"})
		var got callerIdentity
		if err := json.Unmarshal(body, &got); code != http.StatusOK || err != nil {
			t.Fatalf("status %d, %v: %s", code, err, body)
		}
		if got.Account != "210987654321" {
			t.Errorf("account %q", got.Account)
		}
	})
	for _, tc := range []struct {
		name, body string
		header     map[string]string
	}{
		{"query AssumeRole", url.Values{"Action": {"AssumeRole"}, "Version": {"2011-06-15"}}.Encode(), form},
		{"query without action", "", form},
		{"json AssumeRole", "{}", map[string]string{"X-Amz-Target": "AWSSecurityTokenServiceV20110615.AssumeRole"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(t, tc.body, tc.header)
			if code != http.StatusBadRequest || !strings.Contains(string(body), "InvalidAction") {
				t.Errorf("status %d, body %s; want 400 InvalidAction", code, body)
			}
		})
	}
	if len(calls) != 5 {
		t.Errorf("logged %d calls, want 5", len(calls))
	}
}
