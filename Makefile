# The concurrent packages run under the race detector (which needs cgo and
# gcc for the test binary only; Pulpo itself builds without cgo).
RACE_PKGS := ./internal/engine/... ./internal/tasks/... ./internal/scriptsvc/... ./internal/comms/... ./internal/agent/... ./internal/agentrpc/... ./internal/targets/... ./internal/sshtarget/... ./internal/filesvc/... ./internal/transfer/...
OTHER_PKGS = $(shell go list ./... | grep -v -e /internal/engine -e /internal/tasks -e /internal/scriptsvc -e /internal/comms -e /internal/agent -e /internal/targets -e /internal/sshtarget -e /internal/filesvc -e /internal/transfer)

.PHONY: test build bench

# The whole test suite. PostgreSQL's initdb must be under
# /usr/lib/postgresql/*/bin and sshd at /usr/sbin/sshd; with CI=true a
# missing component fails the run.
test:
	go vet ./...
	go test -race -count=1 $(RACE_PKGS)
	go test -count=1 $(OTHER_PKGS)
	go test -run '^$$' -fuzz FuzzParseRender -fuzztime 20s ./internal/template
	go test -run '^$$' -fuzz FuzzOpen -fuzztime 20s ./internal/archive

build:
	CGO_ENABLED=0 go build -o bin/pulpo ./cmd/pulpo

bench:
	go run ./bench
