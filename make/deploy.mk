# deploy/: Grafana dashboards generated from Go, Prometheus alert rules with promtool unit tests,
# Kubernetes manifests and Helm values, the image. Included by the Makefile.

# promtool from the Prometheus the end-to-end suite builds (cached; a cold build takes minutes).
PROMTOOL_DIR = $$(tests/e2e/backends/build.sh prometheus)

.PHONY: dashboards rules-check deploy-check

dashboards: ## Regenerate deploy/grafana/*.json and provisioning/ from the Go definitions.
	$(GO) generate ./deploy/grafana

rules-check: ## promtool check + unit-test the alert rules, check the seeds' rule packs; parse every dashboard query with promtool.
	@promtool="$(PROMTOOL_DIR)/promtool"; \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	"$$promtool" check rules deploy/prometheus/rules.yaml; \
	"$$promtool" check rules deploy/prometheus/seeds/*.yml; \
	"$$promtool" test rules deploy/prometheus/rules_test.yaml; \
	$(GO) run ./deploy/grafana/gen -rules "$$tmp/dashboard-queries.yaml"; \
	"$$promtool" check rules "$$tmp/dashboard-queries.yaml"

deploy-check: build rules-check ## Everything of deploy/: promtool checks, then the dashboards, rules, manifests and image tests.
	$(GO) test -count=1 ./deploy/...
