# otelcol-airi — build, run and test the distribution.
# The two commands a newcomer needs: `make run` and `make test`.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO          ?= go
BINARY      := bin/otelcol-airi
BUILD_DIR   := _build
CONFIG      ?= config/local.yaml
VERSION     := $(shell sed -n 's/^  version: *//p' builder-config.yaml)
IMAGE       ?= otelcol-airi:$(VERSION)

# Everything built once per machine lives outside the repository and is reused: Go's own module
# and build caches (a warm ocb build only relinks), and pinned tools that are not Go `tool`s.
AIRI_CACHE  ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/otelcol-airi
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(AIRI_CACHE)/tools/golangci-lint-$(GOLANGCI_LINT_VERSION)/golangci-lint

# Unit, golden, fuzz-seed and distribution tests run with the race detector; the end-to-end
# suite (tests/e2e, make/e2e.mk) runs after them on its own, since its subject is the binary.
GOTEST := $(GO) test -race -count=1 -timeout 30m $$($(GO) list ./... | grep -v /tests/e2e)

# ocb and mdatagen are pinned by the `tool` block in go.mod (v0.159.0, like the collector).
OCB      := $(GO) tool builder
MDATAGEN := $(GO) tool mdatagen

# The binary is rebuilt only when something that goes into it changed: the manifest, the module
# and every non-test package of ours that the distribution imports (internal/harness, the tests'
# process runner, is not one).
BUILD_INPUTS := builder-config.yaml go.mod go.sum \
	$(shell find config processor extension internal -type f \( -name '*.go' -o -name '*.yaml' \) -not -name '*_test.go' -not -path '*/testdata/*' -not -path 'internal/harness/*' 2>/dev/null)

.PHONY: build run test test-unit validate lint fmt vet generate docker clean help

help: ## List the targets.
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: $(BINARY) ## Build bin/otelcol-airi with ocb (warm: seconds).

$(BINARY): $(BUILD_INPUTS)
	@mkdir -p bin
	$(OCB) --config builder-config.yaml
	@# Replace, not overwrite: a running collector keeps its old binary (no "text file busy").
	cp $(BUILD_DIR)/otelcol-airi $(BINARY).tmp && mv -f $(BINARY).tmp $(BINARY)
	@ls -l $(BINARY)

run: build ## Build, then run with CONFIG (default config/local.yaml: no backend needed).
	$(BINARY) --config $(CONFIG)

test: build backends test-deps rules-check validate vet fmt-check ## What CI runs: validate every config, promtool, vet, all Go tests, the short load run, then the end-to-end suite against the real backends.
	$(GOTEST)
	$(MAKE) --no-print-directory load-short
	$(MAKE) --no-print-directory e2e

test-unit: ## Go tests but the end-to-end suite, without building first (the distribution tests build it if needed).
	$(GOTEST)

validate: build ## `otelcol-airi validate` over every file in config/.
	@for f in config/*.yaml; do \
		printf '%-24s ' "$$f"; \
		$(BINARY) validate --config "$$f" && echo ok; \
	done

vet: ## go vet.
	$(GO) vet ./...

fmt: ## gofmt -w.
	gofmt -s -w $$(git ls-files '*.go')

fmt-check:
	@out=$$(gofmt -s -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

lint: fmt-check vet $(GOLANGCI_LINT) ## gofmt, go vet and golangci-lint $(GOLANGCI_LINT_VERSION).
	$(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT):
	GOBIN=$(dir $@) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

generate: ## Re-run mdatagen (v0.159.0) for every component.
	$(GO) generate ./processor/... ./extension/...


docker: ## Build the image (needs a Docker engine; none runs on the CI machines).
	docker build -t $(IMAGE) .

clean: ## Remove build output and local data.
	rm -rf bin $(BUILD_DIR) data

# Targets of the end-to-end suite, the load tests and the deploy/ checks live beside this file.
include $(sort $(wildcard make/*.mk))
