# What the tests run for real and a fresh machine may lack (Debian packages, npm packages).
.PHONY: test-deps

test-deps: ## Install the Debian and npm packages the tests use (tests/deps/; idempotent).
	@AIRI_CACHE=$(AIRI_CACHE) tests/deps/install.sh
