# Healthgate: `make test` installs what the tests need on a fresh machine and
# runs every test. `.ci/run` calls the same target.

GO ?= go

# The database scripts/setup-test-deps.sh prepares for the PostgreSQL
# store's tests (Unix socket, peer authentication).
HEALTHGATE_TEST_POSTGRES ?= postgres:///healthgate_test?host=/var/run/postgresql
export HEALTHGATE_TEST_POSTGRES

.PHONY: test setup vet build bench fuzz demo

test: setup vet
	$(GO) test -race -count=1 ./...

setup:
	bash scripts/setup-test-deps.sh

vet:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	GOOS=windows $(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=windows $(GO) build -o /dev/null ./cmd/healthgate
	GOOS=darwin $(GO) build -o /dev/null ./cmd/healthgate

build:
	$(GO) build -o bin/healthgate ./cmd/healthgate

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

demo:
	$(GO) run ./cmd/healthgate demo
