package main

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strings"
)

// callerIdentity is GetCallerIdentity's result, in both wire forms.
type callerIdentity struct {
	Arn     string `xml:"Arn" json:"Arn"`
	UserID  string `xml:"UserId" json:"UserId"`
	Account string `xml:"Account" json:"Account"`
}

type queryResponse struct {
	XMLName   xml.Name       `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetCallerIdentityResponse"`
	Result    callerIdentity `xml:"GetCallerIdentityResult"`
	RequestID string         `xml:"ResponseMetadata>RequestId"`
}

type queryError struct {
	XMLName   xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

const requestID = "00000000-0000-0000-0000-000000000000"

// newHandler answers STS GetCallerIdentity for account, in the AWS query
// protocol the SDKs use for STS (form-encoded Action=...) and in AWS JSON
// 1.0 (X-Amz-Target: ...GetCallerIdentity), and answers anything else with
// a 400 InvalidAction. logf hears of every call.
func newHandler(account string, logf func(format string, args ...any)) http.Handler {
	identity := callerIdentity{
		Arn:     "arn:aws:iam::" + account + ":user/sluice-plan",
		UserID:  "AIDASLUICEPLANFAKE0000",
		Account: account,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if target := r.Header.Get("X-Amz-Target"); target != "" {
			_, op, _ := strings.Cut(target, ".")
			logf("%s %s (json)", r.Method, op)
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			if op != "GetCallerIdentity" {
				w.WriteHeader(http.StatusBadRequest)
				_ = json.NewEncoder(w).Encode(map[string]string{"__type": "InvalidAction", "message": "fakests answers GetCallerIdentity only, not " + op})
				return
			}
			_ = json.NewEncoder(w).Encode(identity)
			return
		}
		action := ""
		if err := r.ParseForm(); err == nil {
			action = r.Form.Get("Action")
		}
		logf("%s Action=%s (query)", r.Method, action)
		w.Header().Set("Content-Type", "text/xml")
		if action != "GetCallerIdentity" {
			w.WriteHeader(http.StatusBadRequest)
			_ = xml.NewEncoder(w).Encode(queryError{Type: "Sender", Code: "InvalidAction", Message: "fakests answers GetCallerIdentity only, not " + action, RequestID: requestID})
			return
		}
		_ = xml.NewEncoder(w).Encode(queryResponse{Result: identity, RequestID: requestID})
	})
}
