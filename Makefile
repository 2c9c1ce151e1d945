GO ?= go
# Packages are tested two at a time: the machine has two cores, and each
# package runs its own embedded NATS server against the shared Postgres.
TEST_FLAGS ?= -count=1 -p 2 -timeout 20m

.PHONY: run test build generate bench vet

run: build
	./scripts/services.sh
	./bin/rafiki dev

build:
	$(GO) build -o bin/rafiki ./cmd/rafiki

test:
	./scripts/services.sh
	./scripts/test-deps.sh
	$(GO) vet ./...
	$(GO) test $(TEST_FLAGS) ./...

generate:
	cd adminapi && $(GO) tool gqlgen generate

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...
