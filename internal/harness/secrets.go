// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package harness // import "github.com/airi-otel/otelcol-airi/internal/harness"

import (
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
)

// Example credentials of every kind secret_scrub masks, in the shapes the seeds' services send
// them. They are documentation examples (JWT.io, Stripe's and AWS's docs) or made up: none is
// live. Tests send them through the real binary and require that none arrives anywhere.
const (
	SecretJWT       = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	SecretStripe    = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
	SecretWebhook   = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	SecretOpenAI    = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
	SecretAnthropic = "sk-ant-api03-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z-AbCd"
	SecretAWS       = "AKIAIOSFODNN7EXAMPLE"
	SecretGitHub    = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
	SecretGoogle    = "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"
	SecretCard      = "4242424242424242"
	SecretBasic     = "dXNlcjpodW50ZXIy" // base64("user:hunter2")
	SecretPassword  = "hunter2-Xq9"
	SecretCookie    = "sess_8f14e45fceea167a5a36dedd4bea2543"
	SecretQueryKey  = "qk_5d41402abc4b2a76b9719d911017c592"
)

// Secrets lists every raw secret above.
var Secrets = []string{
	SecretJWT, SecretStripe, SecretWebhook, SecretOpenAI, SecretAnthropic, SecretAWS, SecretGitHub,
	SecretGoogle, SecretCard, SecretBasic, SecretPassword, SecretCookie, SecretQueryKey,
}

// SecretSpanAttributes are the attributes of a span the seeds' services could send: a secret of
// every kind under a secret key, in a URL, and inside free text, beside values of the same shapes
// that are not secrets (an e-mail, a Luhn-failing order ID). The distribution and e2e tests send
// them and look for the raw values and the masked shapes.
func SecretSpanAttributes() []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.StringSlice("http.request.header.authorization", []string{"Bearer " + SecretJWT}),
		attribute.StringSlice("http.request.header.cookie", []string{"session=" + SecretCookie}),
		attribute.String("url.full", "https://api.stripe.com/v1/charges?limit=3&api_key="+SecretQueryKey),
		attribute.String("user.email", "jane.doe@example.com"),
		attribute.String("order.id", "4242424242424241"),
		attribute.String("stripe.webhook", "verified with "+SecretWebhook),
		attribute.String("ci.note", "pushed with "+SecretGitHub+" and "+SecretAWS),
		attribute.String("geocoder", "geocoder key "+SecretGoogle),
		attribute.String("session.note", "refreshed id token "+SecretJWT),
		attribute.String("login", "retried with Basic "+SecretBasic),
	}
}

// NotScrubbed are values of the same shapes that are not secrets and must arrive unchanged: an
// order ID that fails the Luhn check, e-mail addresses (kept by default), request IDs.
var NotScrubbed = []string{"4242424242424241", "jane.doe@example.com", "req-abc123"}

// FindSecrets names every raw secret that occurs in text (empty: none).
func FindSecrets(where, text string) error {
	var found []string
	for _, s := range Secrets {
		if strings.Contains(text, s) {
			found = append(found, s)
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("%s holds raw secrets %q", where, found)
	}
	return nil
}
