# otelcol-airi — load and correctness tests (tests/load, its own Go module with the contrib
# testbed v0.157.0 driving bin/otelcol-airi) and the processor benchmarks.

LOAD_DIR        := tests/load
# Scenario length (the testbed's TESTCASE_DURATION: the measured window after a warm-up): the
# full run and the short one in `make test`.
LOAD_DURATION   ?= 6s
LOAD_SHORT_DURATION ?= 3s
# The full run repeats bare/airi/ottl (interleaved, rotating order) at today's and the high rates
# and summarises the per-round ratios (median, min-max).
LOAD_ROUNDS     ?= 5
# Work directories (ignored by git); the full run's summary files are copied to tests/load/results/.
LOAD_WORK       := $(LOAD_DIR)/results/tmp/full
LOAD_SHORT_WORK := $(LOAD_DIR)/results/tmp/short
LOAD_TESTS      := TestCompare|TestHighCardinality|TestCorrectness
LOAD_FULL_TESTS := $(LOAD_TESTS)|TestStepUp|TestGuardMemory
# `go test` flags of the benchmarks: -count 5 for a median with a spread.
BENCH_FLAGS     ?= -run '^$$' -bench . -benchtime=200ms -count=5 -benchmem

.PHONY: load load-short bench

load: build ## Load + correctness tests at today's and the high rates, 5 interleaved rounds, the step-up (bare and airi) and the guard's memory at 100k/1M series; results in tests/load/results/.
	rm -rf $(LOAD_WORK)
	cd $(LOAD_DIR) && TESTCASE_DURATION=$(LOAD_DURATION) AIRI_LOAD_ROUNDS=$(LOAD_ROUNDS) AIRI_LOAD_HIGH=1 AIRI_LOAD_WORKDIR=$(CURDIR)/$(LOAD_WORK) \
		$(GO) test -count=1 -timeout 90m -v -run '$(LOAD_FULL_TESTS)' . 2>&1 \
		| grep --line-buffered -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go:[0-9]+:|Error|Messages'
	cp $(LOAD_WORK)/results/TESTRESULTS.md $(LOAD_WORK)/results/benchmarks.json \
		$(LOAD_WORK)/results/CORRECTNESSRESULTS.md $(LOAD_WORK)/results/SUMMARY.md $(LOAD_DIR)/results/
	@cat $(LOAD_DIR)/results/SUMMARY.md

load-short: build ## The load + correctness scenarios, a few seconds each (part of `make test`).
	rm -rf $(LOAD_SHORT_WORK)
	cd $(LOAD_DIR) && TESTCASE_DURATION=$(LOAD_SHORT_DURATION) AIRI_LOAD_WORKDIR=$(CURDIR)/$(LOAD_SHORT_WORK) \
		$(GO) test -count=1 -timeout 20m -run '$(LOAD_TESTS)' . \
		&& $(GO) test -count=1 ./cmd/...
	@cat $(LOAD_SHORT_WORK)/results/SUMMARY.md

bench: ## Every processor's benchmarks side by side with their OTTL / contrib equivalents.
	@mkdir -p $(AIRI_CACHE)
	$(GO) test $(BENCH_FLAGS) ./processor/... | tee $(AIRI_CACHE)/bench-last.txt \
		| (cd $(LOAD_DIR) && $(GO) run ./cmd/benchtable)
	@echo "raw results: $(AIRI_CACHE)/bench-last.txt (benchstat-compatible)"
