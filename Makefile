# Kanal — build and test. `make test` is what CI runs.
GO ?= go
NPM ?= npm
PKGS := ./...
WEB := web/workspace
WIDGET := web/widget
E2E_WEB := e2e-web

.PHONY: build run test vet fmt-check unit race web web-deps web-test web-check e2e e2e-deps screenshots widget widget-deps widget-size

build:
	$(GO) build -o bin/kanal ./cmd/kanal

run:
	$(GO) run ./cmd/kanal serve

# vet + gofmt check + every Go test, then the web app: rebuild its bundle,
# its unit tests (Vitest) and the browser tests (Playwright, Debian chromium).
# Store-backed tests run on SQLite always and on PostgreSQL when
# KANAL_TEST_DATABASE_URL is set (.ci/run sets it). On CI (CI set) the rebuilt
# bundle must also equal the committed one.
test: vet fmt-check unit web widget $(if $(CI),web-check,) web-test e2e

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

unit:
	$(GO) test -count=1 -timeout 20m $(PKGS)

race:
	$(GO) test -race -count=1 $(PKGS)

# --- web: the agent workspace (React + TypeScript + Vite) -------------------
# Its built bundle is committed in $(WEB)/dist and embedded by web/embed.go, so
# `go build` needs no Node.js. `make web` rebuilds it (type check, vite build,
# and the 300 KB gzip budget of the initial JavaScript).

web-deps:
	cd $(WEB) && $(NPM) ci --no-audit --no-fund

web: web-deps
	cd $(WEB) && $(NPM) run build

# The web chat widget (Preact): loader + app, at most 30 KB gzipped (checked
# by its build).
widget-deps:
	cd $(WIDGET) && $(NPM) ci --no-audit --no-fund

widget: widget-deps
	cd $(WIDGET) && $(NPM) run build

widget-size:
	cd $(WIDGET) && $(NPM) run size

web-test: web-deps
	cd $(WEB) && $(NPM) test

# The committed bundle must be what the sources build (the build is
# reproducible: content-hashed names, no timestamps).
web-check: web widget
	@if ! git rev-parse --git-dir >/dev/null 2>&1; then echo "web-check: not a git checkout, skipped"; exit 0; fi; \
	changes=$$(git status --porcelain -- $(WEB)/dist $(WIDGET)/dist); \
	if [ -n "$$changes" ]; then \
		echo "$(WEB)/dist is stale: commit the output of 'make web':"; echo "$$changes"; \
		git --no-pager diff --stat -- $(WEB)/dist $(WIDGET)/dist; exit 1; \
	fi

e2e-deps:
	cd $(E2E_WEB) && $(NPM) ci --no-audit --no-fund

# Browser tests against the real binary (built by the global setup).
# CHROMIUM_PATH overrides /usr/bin/chromium; KANAL_BIN uses a prebuilt binary.
e2e: e2e-deps
	cd $(E2E_WEB) && npx --no-install playwright test

# Refresh docs/screenshots/*.png (1280x800) from a fresh demo workspace.
screenshots: e2e-deps
	cd $(E2E_WEB) && UPDATE_SCREENSHOTS=1 npx --no-install playwright test tests/screenshots.spec.ts tests/widget.spec.ts -g screenshot
