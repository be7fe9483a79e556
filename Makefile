# bpf-agent: one entry point for set-up, build, run and test.
# `make run` and `make test` each bring a fresh Debian 12 host up (packages, bpffs, tracefs) first.

SHELL := /bin/bash
BUILD := build
CONFIGURATION ?= Release
WITH_PROMETHEUS ?= 0
CLANG ?= clang
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BPF_CFLAGS := -target bpf -g -O2 -Wall -Werror -D__TARGET_ARCH_$(ARCH) \
	-I$(BUILD)/include -Iprograms/include
DOTNET := DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 dotnet

PROGRAM_SRCS := $(wildcard programs/*.bpf.c)
TEST_BPF_SRCS := $(wildcard tests/Bpf.Tests/bpf/*.bpf.c) $(wildcard tests/Agent.Tests/bpf/*.bpf.c)
PROGRAM_OBJS := $(patsubst programs/%.bpf.c,$(BUILD)/programs/%.bpf.o,$(PROGRAM_SRCS))
TEST_BPF_OBJS := $(patsubst tests/%.bpf.c,$(BUILD)/tests/%.bpf.o,$(TEST_BPF_SRCS))
# Every bench/bpf/*.bpf.c (the producer, the kernel-cost comparison programs): built by `make bpf` too,
# as a test checks that the comparison program computes the same histogram as the shipped one.
BENCH_BPF_OBJS := $(patsubst bench/bpf/%.bpf.c,$(BUILD)/bench/%.bpf.o,$(wildcard bench/bpf/*.bpf.c))
BPF_HEADERS := $(wildcard programs/include/*.h) $(wildcard tests/*/bpf/*.h)

.PHONY: all setup bpf build run test clean bench bench-micro test-kernels test-startups
all: build

# `make test` also needs Prometheus (its tests scrape the agent with a real one).
test: WITH_PROMETHEUS := 1
# ... and podman, buildah (the container, image and Kubernetes tests); `make image` needs buildah.
WITH_CONTAINERS ?= 0
test image: WITH_CONTAINERS := 1
setup:
	@WITH_PROMETHEUS=$(WITH_PROMETHEUS) WITH_CONTAINERS=$(WITH_CONTAINERS) bash scripts/setup-host.sh

$(BUILD)/include/vmlinux.h:
	@bash scripts/gen-vmlinux.sh $@

$(BUILD)/programs/%.bpf.o: programs/%.bpf.c $(BUILD)/include/vmlinux.h $(BPF_HEADERS)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/tests/%.bpf.o: tests/%.bpf.c $(BUILD)/include/vmlinux.h $(BPF_HEADERS)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

bpf: setup $(PROGRAM_OBJS) $(TEST_BPF_OBJS) $(BENCH_BPF_OBJS)

build: bpf
	$(DOTNET) build Agent.sln -c $(CONFIGURATION) --nologo -v quiet

run: build
	@echo "built: $(PROGRAM_OBJS) $(TEST_BPF_OBJS) and Agent.sln ($(CONFIGURATION))"
	@if [ -f src/Agent/Agent.csproj ]; then \
		$(DOTNET) run --project src/Agent -c $(CONFIGURATION) --no-build -- --config-dir $(CURDIR)/config; \
	fi

test: build
	@bash scripts/run-tests.sh $(CONFIGURATION)

# The portability matrix (docs/portability.md): the kernel-facing acceptance on Debian's 5.10, 6.1 and 6.12 under
# qemu and on this host, each with libbpf 1.1 (the distribution's), 1.5.0 and 1.7.0; one table, non-zero if any
# cell fails. About a minute per cell on an idle machine; not part of `make test`. KERNELS=, LIBBPFS= or CELLS=
# (for example CELLS="5.10-system host-1.7.0") choose cells.
test-kernels: build
	@bash scripts/test-kernels.sh $(CONFIGURATION)

# Ten starts in a row of the agent with the shipped sets in a Debian 6.1 guest (CELLS= to choose others): any sample
# dropped at startup fails the run. Not part of `make test`.
test-startups: build
	@CELL_SCRIPT=starts.sh STARTS=$${STARTS:-10} CELLS="$${CELLS:-6.1-system}" BINDING_CELLS=none bash scripts/test-kernels.sh $(CONFIGURATION)

clean:
	rm -rf $(BUILD)
	$(DOTNET) clean Agent.sln -v quiet --nologo >/dev/null || true

# The OCI image bpf-agent:<version> (deploy/image/build.sh, docs/containers.md), built with buildah from scratch, no
# registry. SELF_CONTAINED=0 builds it framework-dependent.
.PHONY: image kubernetes
image: bpf
	@bash deploy/image/build.sh

# deploy/kubernetes/programs.d/ (the ConfigMap of program sets) from config/programs.d/, after a shipped set changes.
kubernetes:
	@bash deploy/kubernetes/render-sets.sh

# Install on this host (root): the agent to /usr/lib/bpf-agent, config to /etc/bpf-agent (an operator's
# changed file is kept, the new one goes beside it as .dist), the systemd unit and its user. DESTDIR= stages.
.PHONY: install uninstall verify-unit
install: bpf
	@bash scripts/install.sh install

uninstall:
	@bash scripts/install.sh uninstall

verify-unit:
	@bash scripts/install.sh verify-unit

# Benchmarks (bench/, docs/performance.md): `make bench` builds the producer object and the native baseline,
# then runs every scenario of issue 4 (< 10 minutes on 2 vCPU); BENCH_ARGS passes options, for example
# BENCH_ARGS="--seconds 5 --only drain,sustained". `make bench-micro`: the BenchmarkDotNet micro-benchmarks.
# Neither is part of `make test`.
BENCH_ARGS ?=
MICRO_ARGS ?= --filter '*'
CC ?= cc
BENCH_OBJ := $(BUILD)/bench/producer.bpf.o
BENCH_NATIVE := $(BUILD)/bench/bench-native

$(BUILD)/bench/%.bpf.o: bench/bpf/%.bpf.c $(BUILD)/include/vmlinux.h $(BPF_HEADERS)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BENCH_NATIVE): bench/native/bench_native.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $< -lbpf -lelf -lz -lpthread

bench: build $(BENCH_BPF_OBJS) $(BENCH_NATIVE)
	$(DOTNET) bench/Agent.Bench/bin/$(CONFIGURATION)/net10.0/Agent.Bench.dll --root $(CURDIR) --configuration $(CONFIGURATION) $(BENCH_ARGS)

bench-micro: build $(BENCH_OBJ)
	cd bench/Agent.Micro && BENCH_PRODUCER_OBJECT=$(CURDIR)/$(BENCH_OBJ) \
		$(DOTNET) bin/$(CONFIGURATION)/net10.0/Agent.Micro.dll $(MICRO_ARGS)

# The soak (scripts/soak.sh, docs/reliability.md): SOAK_SECONDS (default 600) of sustained load with reload
# cycles, then samples produced, delivered and dropped by stage, RSS and fds, and the verdict (also written to
# build/soak-report.txt). Not part of `make test`, which runs a 20 s one.
.PHONY: soak
soak: build
	@bash scripts/soak.sh $(CONFIGURATION)
