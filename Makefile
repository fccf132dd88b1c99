# sctpgw build and test entry points. `make test` is what CI runs.
GO        ?= go
FUZZTIME  ?= 30s
PKGS      ?= ./...
# staticcheck at a pinned version (v0.8.2 knows go 1.26), installed into
# bin/tools by make lint on first use, so make test works on a machine with
# nothing but Go.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK ?= $(CURDIR)/bin/tools/staticcheck

.PHONY: build test race fuzz bench bench-compare bench-lab bench-lab-dtls bench-scale e2e kernel-test kernel-fetch lint ci image-bins image compose-images

build:
	$(GO) build -buildvcs=auto -o bin/sctpgw ./cmd/sctpgw

# Container images from static binaries, nothing pulled from a registry:
# localhost/sctpgw (Containerfile) and the compose lab's localhost/sctpgw-lab
# (examples/compose). Docker format keeps the HEALTHCHECK.
PODMAN ?= podman --runtime runc
image-bins:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/image/ ./cmd/sctpgw ./examples/compose/s1sim ./examples/compose/natbox

image: image-bins
	$(PODMAN) build --format docker -t localhost/sctpgw:latest -f Containerfile .

compose-images: image
	$(PODMAN) build --format docker -t localhost/sctpgw-lab:latest -f examples/compose/Containerfile .

# Unit, simulator, vnet and (as root) namespace tests, with the race detector.
test: lint
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	@# The seeded simulator soaks at their full seed counts: under -race they
	@# run a tenth of them (stack/engine/seeds_test.go).
	$(GO) test -count=1 -timeout 10m -run '^(TestTransferUnderImpairments|TestShutdownDeliversDataInFlight|TestSoakLifecycle|TestFailover|TestFailoverWithoutPF)$$' ./stack/engine/
	@# Allocation and heap figures the race detector's instrumentation would
	@# inflate skip under -race and are asserted here. Found by name, so a new
	@# one is asserted without touching this file: a test that counts
	@# allocations has Alloc or Allocate in its name, one that weighs the heap
	@# HeapPer.
	$(GO) test -count=1 -timeout 10m -run 'Alloc|HeapPer' $(PKGS)
	@# The deployment files' tests (deploy/: systemd unit, Kubernetes
	@# manifests), a module of their own so that k8s.io/api stays out of
	@# the product's dependencies.
	cd deploy && $(GO) test -race -count=1 -timeout 5m ./...
	@# RFC 8261 interop: pion/sctp over pion/dtls against the DTLS link
	@# (bench/, where pion/sctp may be a dependency).
	cd bench && $(GO) test -race -count=1 -timeout 5m -run '^TestDTLSInterop' .
	@# Last, with the machine to itself: a real kernel with SCTP under qemu.
	$(MAKE) kernel-test

race:
	$(GO) test -race -count=1 $(PKGS)

# Every fuzz target, each for FUZZTIME. Targets are discovered, not listed, so
# a new one is fuzzed without touching this file.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
	    echo "== $$pkg $$t"; \
	    $(GO) test $$pkg -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Comparisons with pion/sctp and usrsctp in the same run (bench/, its own
# module so the product never depends on pion/sctp). About 6 minutes.
bench-compare:
	$(MAKE) -C bench

# The gateway pair in the namespace lab against a usrsctp relay pair and no
# gateway, in one run, then one gateway relaying 100 associations (root;
# libusrsctp-examples, libusrsctp-dev, cc). BENCHTIME is per run;
# examples/lab/README.md lists the LAB_* knobs.
BENCHTIME ?= 5s
bench-lab:
	$(GO) test -count=1 -timeout 20m -run XXX -bench '^BenchmarkLab(ManyAssocs)?$$' -benchtime $(BENCHTIME) ./examples/lab/

# The pair over dtls:// against the pair over udp:// in the namespace lab
# (root; libusrsctp-examples, libusrsctp-dev, cc). LAB_ROUNDS=N alternates.
bench-lab-dtls:
	$(GO) test -count=1 -timeout 20m -run XXX -bench '^BenchmarkLabDTLS$$' -benchtime $(BENCHTIME) ./examples/lab/

# 10,000 idle pairs through edge and core in the namespace lab (root): RSS
# per pair and at 10,000, idle CPU, setup rate with where its CPU goes (perf
# if installed), RSS after the close. About 2 minutes; SGWL_SCALE_PAIRS,
# SGWL_SCALE_PARALLEL, SGWL_SCALE_IDLE_S, SGWL_SCALE_AFTER_S change it.
bench-scale:
	$(GO) test -count=1 -timeout 20m -run XXX -bench '^BenchmarkLabScale$$' -benchtime 1x ./examples/lab/

# End-to-end labs in network namespaces and containers (examples/compose,
# podman); needs root (CI runs them).
e2e:
	$(GO) test -count=1 -timeout 10m -run 'E2E|Usrsctp|Assoc|Interop|NAT|Netns|Compose' ./examples/... ./gateway/... ./udpencap/... ./stack/rawip/...

# sctpgw against a real Linux kernel with SCTP: Debian's cloud kernel booted
# once under qemu (no KVM), sctpgw and kernel SCTP peers inside, the host's
# sctpgw pair around it (test/kernel, its own module, README there). Root,
# qemu-system-x86 and the kernel package (make kernel-fetch); skipped
# otherwise, except under CI=true where it fails. About a minute once built.
kernel-test:
	cd test/kernel && $(GO) test -count=1 -timeout 15m -v ./...

kernel-fetch:
	test/kernel/fetch-kernel.sh

# gofmt, go vet and staticcheck, on the product and on the bench, test/kernel
# and deploy modules.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@test -x $(STATICCHECK) || { echo "installing staticcheck $(STATICCHECK_VERSION) into $(dir $(STATICCHECK))"; GOBIN=$(dir $(STATICCHECK)) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); }
	$(STATICCHECK) $(PKGS)
	cd bench && $(GO) vet ./... && $(STATICCHECK) ./...
	cd test/kernel && $(GO) vet ./... && $(STATICCHECK) ./...
	cd deploy && $(GO) vet ./... && $(STATICCHECK) ./...
	@# The other modules replace this one: a dependency added here must reach
	@# their go.sum too, or they stop building on a clean clone.
	@for m in . bench test/kernel deploy; do (cd $$m && $(GO) mod tidy -diff >/dev/null) || { echo "go.mod/go.sum of $$m not tidy: run (cd $$m && go mod tidy)"; exit 1; }; done

ci: test
