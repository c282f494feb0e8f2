# End-to-end suite: the shipped configs against real Jaeger, Prometheus, Mimir and Loki.

E2E_BACKENDS := jaeger prometheus loki mimir
E2E_TIMEOUT  ?= 45m
export AIRI_BACKENDS_CACHE := $(AIRI_CACHE)/backends

.PHONY: backends e2e

backends: ## Build the pinned Jaeger, Prometheus, Loki and Mimir once into $(AIRI_CACHE)/backends (cold: minutes each; warm: instant).
	@for b in $(E2E_BACKENDS); do tests/e2e/backends/build.sh $$b >/dev/null; done
	@ls -1d $(AIRI_CACHE)/backends/*/bin

e2e: build backends ## Only the end-to-end suite (real backends, faults), verbose, with the sent/acknowledged/arrived counts.
	@mkdir -p $(AIRI_CACHE)
	$(GO) test -count=1 -v -timeout $(E2E_TIMEOUT) ./tests/e2e/ 2>&1 | tee $(AIRI_CACHE)/e2e-last.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|(sent|ready in|arrived whole|series|overload|bad input|tracking id|killed)' ; \
		exit $${PIPESTATUS[0]}
