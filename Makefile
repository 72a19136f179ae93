# Kanal — build and test. `make test` is what CI runs.
GO ?= go
PKGS := ./...

.PHONY: build run test vet fmt-check unit race

build:
	$(GO) build -o bin/kanal ./cmd/kanal

run:
	$(GO) run ./cmd/kanal serve

# vet + gofmt check + every test. Store-backed tests run on SQLite always and
# on PostgreSQL when KANAL_TEST_DATABASE_URL is set (.ci/run sets it).
test: vet fmt-check unit

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

unit:
	$(GO) test -count=1 -timeout 20m $(PKGS)

race:
	$(GO) test -race -count=1 $(PKGS)
