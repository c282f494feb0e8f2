// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestRewriteIDs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"GET", "GET"},
		{"200", "200"},
		{"v1.2.3", "v1.2.3"},
		{"12345", "12345"},
		{"123456", "{num}"},
		{"order-1234567-x", "order-{num}-x"},
		{"550e8400-e29b-41d4-a716-446655440000", "{uuid}"},
		{"user:550E8400-E29B-41D4-A716-446655440000!", "user:{uuid}!"},
		{"4bf92f3577b34da6a3ce929d0e0e4736", "{hex}"},
		{"span 00f067aa0ba902b7 done", "span {hex} done"},
		{"deadbeefdeadbee", "deadbeefdeadbee"}, // 15 hex chars: too short
		{"mail alice.smith+tag@example.co.uk now", "mail {email} now"},
		{"bob@localhost", "bob@localhost"},
		{"a@b.c.", "{email}."},
		{"no-at-sign.example.com", "no-at-sign.example.com"},
		{"x9f1c2e3a4b5c6d7e8", "x9f1c2e3a4b5c6d7e8"}, // not all hex
		{"ids 123456,654321", "ids {num},{num}"},
	} {
		got, changed := appendRewriteIDs(nil, tc.in)
		if !changed {
			got = []byte(tc.in)
		}
		assert.Equal(t, tc.want, string(got), tc.in)
		assert.Equal(t, tc.in != tc.want, changed, tc.in)
	}
}

func TestPathTemplate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"/api/v1/users/123/orders/9f1c2e3a", "/api/v1/users/{id}/orders/{id}"},
		{"/api/v2beta1/sessions/550e8400-e29b-41d4-a716-446655440000", "/api/v2beta1/sessions/{id}"},
		{"/api/v1/users/{id}", "/api/v1/users/{id}"},
		{"/users/:id/profile", "/users/:id/profile"},
		{"/search?q=1", "/search"},
		{"/", "/"},
		{"/healthz", "/healthz"},
		{"/files/aB3dE5fG7hJ9kL1mN/raw", "/files/{id}/raw"},
		{"/orders/order-1234567", "/orders/{id}"},
		{"/u/alice@example.com/", "/u/{id}/"},
		{"//double//slash", "//double//slash"},
		{"not/a/path/123", "not/a/path/123"},
	} {
		got, changed := appendPathTemplate(nil, tc.in)
		if !changed {
			got = []byte(tc.in)
		}
		assert.Equal(t, tc.want, string(got), tc.in)
	}
}

func TestTransformPathLabelFallsBackToIDs(t *testing.T) {
	t.Parallel()
	r := newLabelRules(testConfig())
	got, changed := r.transform(nil, clsPath, "user-1234567")
	assert.True(t, changed)
	assert.Equal(t, "user-{num}", string(got))
	got, changed = r.transform(nil, clsPlain, strings.Repeat("é", 2000))
	assert.True(t, changed)
	assert.LessOrEqual(t, len(got), 2048)
	assert.True(t, strings.HasSuffix(string(got), truncMarker))
	assert.True(t, strings.HasPrefix(string(got), "é"))
	assert.True(t, utf8.Valid(got), "cut on a UTF-8 boundary")
}

func TestRewriteDoesNotAllocateWhenUnchanged(t *testing.T) {
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = appendRewriteIDs(buf[:0], "/api/v1/users/{id}/orders GET 200")
		buf, _ = appendPathTemplate(buf[:0], "/api/v1/users/{id}")
	})
	assert.Zero(t, allocs)
}
