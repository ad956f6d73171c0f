# serviceflow — `make test` is the whole test suite (what CI runs).
GO ?= go
export GOTOOLCHAIN ?= local
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
export DATABASE_URL

.PHONY: test vet fmt-check workflowcheck unit build run

test: fmt-check vet workflowcheck
	$(GO) test -race -count=1 -timeout 40m ./...

unit: ## fast: no race detector, skips nothing
	$(GO) test -count=1 ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

workflowcheck:
	$(GO) tool workflowcheck ./workflows/...

build:
	$(GO) build -o bin/serviceflow ./cmd/serviceflow

run:
	$(GO) run ./cmd/serviceflow dev

record-histories: ## re-record workflows/testdata/histories: every end-to-end test that calls recordHistory writes its file
	SERVICEFLOW_RECORD_HISTORIES=1 $(GO) test -count=1 ./cmd/serviceflow/

load: ## load benchmark: prints figures, writes loadgen-figures.json (needs PostgreSQL)
	$(GO) run ./cmd/loadgen -out loadgen-figures.json
