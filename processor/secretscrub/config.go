// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package secretscrub // import "github.com/airi-otel/otelcol-airi/processor/secretscrub"

import (
	"encoding"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"go.opentelemetry.io/collector/component"
)

// Config is the configuration of the secret_scrub processor. The zero value of every field but
// Enabled is the shipped default: every built-in rule on, emails kept, nothing extra.
type Config struct {
	// Enabled turns scrubbing on. false passes everything through untouched (meant for a
	// development environment only, through `${env:AIRI_SCRUB_SECRETS}`). Default true.
	Enabled bool `mapstructure:"enabled"`

	// MaskEmails masks the local part of e-mail addresses (`****@example.com`). Default false:
	// e-mail addresses are kept.
	MaskEmails bool `mapstructure:"mask_emails"`

	// ExtraKeys are attribute / map-body keys whose whole value is a secret, on top of the
	// built-in ones (authorization, cookie, password, token, ...). Matched ASCII
	// case-insensitively with `-` and `_` alike, as the whole key, as its last dot-separated
	// segment and so as `http.request.header.<key>`. They are also secret URL query / `k=v`
	// parameter names. Empty: none.
	ExtraKeys []string `mapstructure:"extra_keys"`

	// ExtraPrefixes are token prefixes (e.g. `xoxb-` for Slack bot tokens): a prefix followed by
	// at least 8 token characters anywhere in a string is masked as `<prefix>****`. Byte
	// scanned like the built-in prefixes. Empty: none.
	ExtraPrefixes []string `mapstructure:"extra_prefixes"`

	// ExtraPatterns are RE2 regular expressions; every match in a string value is replaced by
	// `****`. They run after the byte scanners on every string and cost one regexp scan per
	// pattern and value (see README "Cost"); prefer ExtraKeys / ExtraPrefixes. Empty: none.
	ExtraPatterns []string `mapstructure:"extra_patterns"`

	// AllowKeys are keys that are never scrubbed (matched like ExtraKeys, but as the whole key
	// only). tracking.id, tracking_id, tracking.id.original, trace_id and span_id are always
	// allowed. Empty: only those.
	AllowKeys []string `mapstructure:"allow_keys"`

	// AllowValues are exact string values that are never masked (a documented test card, a
	// public demo key). Empty: none.
	AllowValues []string `mapstructure:"allow_values"`

	// DisabledRules switches built-in rules off by name (see Rule). Empty: all on.
	DisabledRules []Rule `mapstructure:"disabled_rules"`
}

var _ component.Config = (*Config)(nil)

// Rule names one scrubbing rule; it is the `rule` attribute of the redactions counter.
type Rule string

// The rules, in the order of the counter's per-batch tally.
const (
	RuleKey        Rule = "key"
	RuleBearer     Rule = "bearer"
	RuleBasic      Rule = "basic"
	RuleJWT        Rule = "jwt"
	RuleStripe     Rule = "stripe"
	RuleOpenAI     Rule = "openai"
	RuleAnthropic  Rule = "anthropic"
	RuleAWS        Rule = "aws"
	RuleGitHub     Rule = "github"
	RuleGoogle     Rule = "google"
	RuleCard       Rule = "card"
	RuleQueryParam Rule = "query_param"
	RuleEmail      Rule = "email"
	RulePrefix     Rule = "prefix"
	RulePattern    Rule = "pattern"
)

// The rules' indexes in allRules, the per-batch tally and rules.on: the scan uses these, so its
// hot path never looks a rule up by name.
const (
	idxKey = iota
	idxBearer
	idxBasic
	idxJWT
	idxStripe
	idxOpenAI
	idxAnthropic
	idxAWS
	idxGitHub
	idxGoogle
	idxCard
	idxQueryParam
	idxEmail
	idxPrefix
	idxPattern
	numRules
)

var allRules = [numRules]Rule{
	idxKey: RuleKey, idxBearer: RuleBearer, idxBasic: RuleBasic, idxJWT: RuleJWT,
	idxStripe: RuleStripe, idxOpenAI: RuleOpenAI, idxAnthropic: RuleAnthropic, idxAWS: RuleAWS,
	idxGitHub: RuleGitHub, idxGoogle: RuleGoogle, idxCard: RuleCard,
	idxQueryParam: RuleQueryParam, idxEmail: RuleEmail, idxPrefix: RulePrefix,
	idxPattern: RulePattern,
}

func ruleIndex(r Rule) int {
	for i, x := range allRules {
		if x == r {
			return i
		}
	}
	return -1
}

var _ encoding.TextUnmarshaler = (*Rule)(nil)

// UnmarshalText accepts the name of a built-in rule (email and pattern are switched with
// mask_emails and extra_patterns instead).
func (r *Rule) UnmarshalText(text []byte) error {
	s := Rule(strings.ToLower(strings.TrimSpace(string(text))))
	switch s {
	case RuleEmail, RulePattern, RulePrefix:
	default:
		if ruleIndex(s) >= 0 {
			*r = s
			return nil
		}
	}
	names := make([]string, 0, len(allRules))
	for _, x := range allRules {
		if x != RuleEmail && x != RulePattern && x != RulePrefix {
			names = append(names, string(x))
		}
	}
	return fmt.Errorf("unknown rule %q, known rules are %s", string(text), strings.Join(names, ", "))
}

func createDefaultConfig() component.Config {
	return &Config{Enabled: true}
}

// minPrefixLen keeps an extra prefix from matching ordinary words.
const minPrefixLen = 3

// Validate checks the configuration and reports every problem at once.
func (cfg *Config) Validate() error {
	var errs []error
	errs = append(errs, validateList("extra_keys", cfg.ExtraKeys, 1, normKey)...)
	errs = append(errs, validateList("extra_prefixes", cfg.ExtraPrefixes, minPrefixLen, func(s string) string { return s })...)
	errs = append(errs, validateList("allow_keys", cfg.AllowKeys, 1, normKey)...)
	for i, p := range cfg.ExtraPatterns {
		if p == "" {
			errs = append(errs, fmt.Errorf("extra_patterns[%d]: must not be empty", i))
			continue
		}
		re, err := regexp.Compile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("extra_patterns[%d]: %w", i, err))
			continue
		}
		if re.MatchString("") {
			errs = append(errs, fmt.Errorf("extra_patterns[%d]: %q matches the empty string", i, p))
		}
	}
	for i, v := range cfg.AllowValues {
		if v == "" {
			errs = append(errs, fmt.Errorf("allow_values[%d]: must not be empty", i))
		}
	}
	return errors.Join(errs...)
}

func validateList(field string, list []string, minLen int, norm func(string) string) []error {
	var errs []error
	seen := make(map[string]int, len(list))
	for i, k := range list {
		switch {
		case strings.TrimSpace(k) == "":
			errs = append(errs, fmt.Errorf("%s[%d]: must not be empty", field, i))
			continue
		case strings.TrimSpace(k) != k:
			errs = append(errs, fmt.Errorf("%s[%d]: %q has surrounding whitespace", field, i, k))
		case len(k) < minLen:
			errs = append(errs, fmt.Errorf("%s[%d]: %q is shorter than %d characters", field, i, k, minLen))
		}
		n := norm(k)
		if j, dup := seen[n]; dup {
			errs = append(errs, fmt.Errorf("%s[%d]: %q duplicates %s[%d]", field, i, k, field, j))
			continue
		}
		seen[n] = i
	}
	return errs
}
