// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package secretscrub

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Documented example credentials (JWT.io, Stripe, AWS docs), none of them live.
const (
	testJWT       = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	testStripe    = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
	testOpenAI    = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
	testAnthropic = "sk-ant-api03-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z-AbCd"
	testAWS       = "AKIAIOSFODNN7EXAMPLE"
	testGitHub    = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
	testGoogle    = "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"
	testCard      = "4242424242424242"
	testBasic     = "dXNlcjpodW50ZXIy" // user:hunter2
)

func newTestScrubber(t testing.TB, cfg *Config) *scrubber {
	t.Helper()
	if cfg == nil {
		cfg = createDefaultConfig().(*Config)
	}
	require.NoError(t, cfg.Validate())
	return &scrubber{r: compileRules(cfg)}
}

// TestValueRules: every value rule with what it must mask and what it must leave alone.
func TestValueRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want string
		rule           Rule // "" = nothing masked
	}{
		// bearer / basic
		{"bearer jwt", "Bearer " + testJWT, "Bearer ****", RuleBearer},
		{"bearer opaque", "auth with bearer 9f8e7d6c5b4a3f2e1d0c", "auth with bearer ****", RuleBearer},
		{"bearer in header dump", "Authorization: Bearer abc.def-123_456; next", "Authorization: Bearer ****; next", RuleBearer},
		{"bearer prose", "Bearer authentication is required", "Bearer authentication is required", ""},
		{"bearer short", "Bearer token", "Bearer token", ""},
		{"basic", "Basic " + testBasic, "Basic ****", RuleBasic},
		{"basic padded", "basic dXNlcjpwYXNzd29yZA==", "basic ****", RuleBasic},
		{"basic prose", "Basic authentication failed", "Basic authentication failed", ""},
		{"basic plan", "upgraded from Basic plan", "upgraded from Basic plan", ""},
		// JWT
		{"jwt alone", "token was " + testJWT + " (expired)", "token was eyJ**** (expired)", RuleJWT},
		{"jwt-like short", "eyJhbGci.eyJ.x", "eyJhbGci.eyJ.x", ""},
		{"eyJ inside word", "keyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc", "keyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc", ""},
		// Stripe
		{"stripe live", "stripe key " + testStripe, "stripe key sk_live_****", RuleStripe},
		{"stripe test", "sk_test_4eC39HqLyjWDarjtT1zdp7dc", "sk_test_****", RuleStripe},
		{"stripe restricted", "rk_live_51Hx0aBcDeFgHiJk", "rk_live_****", RuleStripe},
		{"stripe webhook", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_****", RuleStripe},
		{"stripe publishable kept", "pk_live_4eC39HqLyjWDarjtT1zdp7dc", "pk_live_4eC39HqLyjWDarjtT1zdp7dc", ""},
		{"stripe prefix only", "sk_live_ is the prefix", "sk_live_ is the prefix", ""},
		// OpenAI / Anthropic
		{"openai project", "key=" + testOpenAI, "key=****", RuleQueryParam},
		{"openai project bare", "using " + testOpenAI, "using sk-proj-****", RuleOpenAI},
		{"openai legacy", "sk-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb3dEf6hIj9k", "sk-****", RuleOpenAI},
		{"anthropic", "x " + testAnthropic + " y", "x sk-ant-**** y", RuleAnthropic},
		{"risk-assessment", "risk-assessment-for-the-whole-portfolio", "risk-assessment-for-the-whole-portfolio", ""},
		{"sk- short", "sk-learn", "sk-learn", ""},
		// AWS, GitHub, Google
		{"aws key id", "aws " + testAWS + ",", "aws AKIA****,", RuleAWS},
		{"aws temp key id", "ASIAY34FZKBOKMUTVV7A", "ASIA****", RuleAWS},
		{"aws too long", "AKIAIOSFODNN7EXAMPLEX", "AKIAIOSFODNN7EXAMPLEX", ""},
		{"aws lower case", "AKIAiosfodnn7example", "AKIAiosfodnn7example", ""},
		{"github classic", "token " + testGitHub, "token ghp_****", RuleGitHub},
		{"github fine-grained", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "github_pat_****", RuleGitHub},
		{"github short", "ghp_short", "ghp_short", ""},
		{"google api key", "maps?k " + testGoogle, "maps?k AIza****", RuleGoogle},
		{"google oauth", "ya29.a0AfH6SMBx1234567890abcdefghij", "ya29.****", RuleGoogle},
		// cards
		{"card plain", "stripe charge failed for card " + testCard + " key " + testStripe, "stripe charge failed for card **** key sk_live_****", RuleCard},
		{"card spaced", "card 4242 4242 4242 4242 declined", "card **** declined", RuleCard},
		{"card dashed", "5555-5555-5555-4444", "****", RuleCard},
		{"card amex", "378282246310005", "****", RuleCard},
		{"card amex grouped", "3782 822463 10005", "****", RuleCard},
		{"card then cvv", "4242424242424242 123", "**** 123", RuleCard},
		{"order id fails luhn", "order 4242424242424241 shipped", "order 4242424242424241 shipped", ""},
		{"nanosecond timestamp", "1732900000000000000", "1732900000000000000", ""},
		{"hex trace id", "4bf92f3577b34da6a3ce929d0e0e4736", "4bf92f3577b34da6a3ce929d0e0e4736", ""},
		{"digit-only 32", "42424242424242424242424242424242", "42424242424242424242424242424242", ""},
		{"decimal", "0.4242424242424242", "0.4242424242424242", ""},
		{"inside word", "id4242424242424242", "id4242424242424242", ""},
		{"spaced small numbers", "2 4 6 8 2 4 6 8 2 4 6 8 2 4 6 8", "2 4 6 8 2 4 6 8 2 4 6 8 2 4 6 8", ""},
		{"phone", "+49 30 1234567", "+49 30 1234567", ""},
		// parameters
		{"url api_key", "https://api.example.com/v1/charges?limit=10&api_key=" + testStripe + "&page=2", "https://api.example.com/v1/charges?limit=10&api_key=****&page=2", RuleQueryParam},
		{"url token", "/callback?code_verifier=x&access_token=abc123&state=ok", "/callback?code_verifier=x&access_token=****&state=ok", RuleQueryParam},
		{"url case", "?API-KEY=abc&Signature=zzz", "?API-KEY=****&Signature=****", RuleQueryParam},
		{"aws presigned", "?X-Amz-Credential=AKIA%2F2024&X-Amz-Signature=ab12cd", "?X-Amz-Credential=****&X-Amz-Signature=****", RuleQueryParam},
		{"cli flag", "worker --password=hunter2 --port=80", "worker --password=**** --port=80", RuleQueryParam},
		{"log k=v", "login failed user=bob password=hunter2", "login failed user=bob password=****", RuleQueryParam},
		{"max_tokens kept", "?max_tokens=100&model=gpt-4o", "?max_tokens=100&model=gpt-4o", ""},
		{"keyword kept", "?keyword=shoes", "?keyword=shoes", ""},
		{"empty value", "?api_key=&x=1", "?api_key=&x=1", ""},
		{"already masked", "?api_key=****", "?api_key=****", ""},
		{"userinfo", "postgres://app:s3cr3t@db:5432/x", "postgres://app:****@db:5432/x", RuleQueryParam},
		{"no userinfo", "https://example.com:8443/a@b", "https://example.com:8443/a@b", ""},
		// emails are kept by default
		{"email kept", "user jane.doe@example.com signed up", "user jane.doe@example.com signed up", ""},
		// identifiers
		{"uuid", "req 550e8400-e29b-41d4-a716-446655440000", "req 550e8400-e29b-41d4-a716-446655440000", ""},
		{"request id", "req-abc123", "req-abc123", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestScrubber(t, nil)
			got, changed := s.scrubString(tc.in)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.rule != "", changed)
			if tc.rule != "" {
				require.Positive(t, s.tally[ruleIndex(tc.rule)], "counted under %s: %v", tc.rule, s.tally)
			}
			again, changed := s.scrubString(got)
			require.Equal(t, got, again, "scrubbing is idempotent (agent and gateway both scrub)")
			require.False(t, changed)
		})
	}
}

func TestMaskEmails(t *testing.T) {
	t.Parallel()
	s := newTestScrubber(t, &Config{Enabled: true, MaskEmails: true})
	for in, want := range map[string]string{
		"user jane.doe+x@example.com signed up": "user ****@example.com signed up",
		"a@b":                                   "a@b",
		"@handle":                               "@handle",
		"jane@localhost":                        "jane@localhost",
	} {
		got, _ := s.scrubString(in)
		require.Equal(t, want, got, in)
	}
	require.EqualValues(t, 1, s.tally[ruleIndex(RuleEmail)])
}

// TestLongConfiguredKeys: keys longer than has()'s 64-byte stack buffer still match, as a whole
// key, as a last segment and in allow_keys (they never did before: the look-up gave up).
func TestLongConfiguredKeys(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x_internal_service_", 4) + "signature" // 85 bytes
	allowed := strings.Repeat("a", 70)
	s := newTestScrubber(t, &Config{Enabled: true, ExtraKeys: []string{long}, AllowKeys: []string{allowed}})
	require.True(t, s.r.isSecretKey(long))
	require.True(t, s.r.isSecretKey(strings.ToUpper(long)))
	require.True(t, s.r.isSecretKey("http.request.header."+strings.ReplaceAll(long, "_", "-")))
	require.False(t, s.r.isSecretKey(long[1:]))
	require.False(t, s.r.isSecretKey(long+"s"))
	require.True(t, s.r.isAllowedKey(strings.ToUpper(allowed)))
	require.False(t, s.r.isAllowedKey(allowed[1:]))
}

func TestKeyRule(t *testing.T) {
	t.Parallel()
	s := newTestScrubber(t, &Config{Enabled: true, ExtraKeys: []string{"X-Stripe-Signature"}, AllowKeys: []string{"token"}})
	for _, k := range []string{
		"authorization", "Authorization", "http.request.header.authorization", "http.request.header.proxy-authorization",
		"http.response.header.set-cookie", "cookie", "x-api-key", "X_API_KEY", "api_key", "apikey", "password",
		"db.password", "passwd", "secret", "client_secret", "access_token", "refresh_token",
		"private_key", "http.request.header.x-stripe-signature", "http_request_header_x_api_key",
		"HTTP_RESPONSE_HEADER_SET_COOKIE",
	} {
		require.True(t, s.r.isSecretKey(k), k)
	}
	for _, k := range []string{
		"tracking.id", "tracking_id", "trace_id", "url.full", "gen_ai.usage.input_tokens",
		"http.request.header.content-type", "key", "secrets_count", "user.email", "http_request_header_accept",
		"http_request_header_",
	} {
		require.False(t, s.r.isSecretKey(k), k)
	}
	for _, k := range []string{"tracking.id", "TRACKING_ID", "trace_id", "span_id", "tracking.id.original", "token"} {
		require.True(t, s.r.isAllowedKey(k), k)
	}
	for in, want := range map[string]string{
		"Bearer " + testJWT:       "Bearer ****",
		"Basic " + testBasic:      "Basic ****",
		testStripe:                "sk_live_****",
		"hunter2":                 "****",
		"session=abc; theme=dark": "****",
		"Bearer ****":             "Bearer ****",
		"****":                    "****",
		"":                        "",
	} {
		got, _ := s.maskWhole(in)
		require.Equal(t, want, got, in)
	}
}

func TestExtraRulesAndAllowValues(t *testing.T) {
	t.Parallel()
	s := newTestScrubber(t, &Config{
		Enabled:       true,
		ExtraPrefixes: []string{"xoxb-"},
		ExtraPatterns: []string{`\bcust_[0-9]{6}\b`},
		AllowValues:   []string{testCard},
		DisabledRules: []Rule{RuleAWS},
	})
	got, _ := s.scrubString("slack xoxb-123456789012-abcdefgh for cust_123456")
	require.Equal(t, "slack xoxb-**** for ****", got)
	require.EqualValues(t, 1, s.tally[ruleIndex(RulePrefix)])
	require.EqualValues(t, 1, s.tally[ruleIndex(RulePattern)])
	got, _ = s.scrubString(testCard)
	require.Equal(t, testCard, got, "allow_values")
	got, _ = s.scrubString(testAWS)
	require.Equal(t, testAWS, got, "disabled rule")
}

func TestLuhn(t *testing.T) {
	t.Parallel()
	for _, n := range []string{"4242424242424242", "4000056655665556", "5555555555554444", "378282246310005", "6011111111111117", "4242 4242 4242 4242"} {
		require.True(t, luhn(n), n)
	}
	for _, n := range []string{"4242424242424241", "1234567812345678", "5555555555554445"} {
		require.False(t, luhn(n), n)
	}
}

func TestCookieKeepsNames(t *testing.T) {
	t.Parallel()
	s := newTestScrubber(t, nil)
	for in, want := range map[string]string{
		"session=abc123; theme=dark":              "session=****; theme=****",
		"id=a3fWa; Expires=Wed; Secure; HttpOnly": "id=****; Expires=****; Secure; HttpOnly",
		"opaque-cookie-value":                     "****",
		"session=****; theme=****":                "session=****; theme=****",
	} {
		got, _ := s.maskCookie(in)
		require.Equal(t, want, got, in)
	}
	for _, k := range []string{"cookie", "Set-Cookie", "http.response.header.set-cookie", "http_request_header_cookie", "HTTP_RESPONSE_HEADER_SET_COOKIE"} {
		require.True(t, isCookieKey(k), k)
	}
	for _, k := range []string{"cookies_enabled", "http_request_header_", "http_request_header_cookies", "my_cookie", "http_request_header_authorization"} {
		require.False(t, isCookieKey(k), k)
	}
}
