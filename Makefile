# tunlock: build, test, demo and benchmark. `make help` lists the targets.
CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
LLVM_STRIP ?= llvm-strip
OUT := build
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

CFLAGS ?= -O2 -g
# The agent's folders, one per concern (README.md, "Layout"): policy, kernel
# (loader, pins, maps), follow (interfaces, containers, cgroups), feed
# (events, metrics), cli (commands and the daemon). Each is on the include path.
AGENT_DIRS := agent/policy agent/kernel agent/follow agent/feed agent/cli
AGENT_INC := $(addprefix -I,$(AGENT_DIRS))
ifneq ($(wildcard agent/*.c agent/*.h),)
$(error agent/ keeps its sources in $(AGENT_DIRS): move $(wildcard agent/*.c agent/*.h))
endif
CFLAGS += -std=gnu11 -Wall -Wextra -Iinclude $(AGENT_INC) -I$(OUT)
LDLIBS := -lbpf -lelf -lz -lyaml -lpthread
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Wextra \
	-Wno-unused-parameter -Wno-sign-compare

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUT)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
BPF_HDRS := $(wildcard bpf/*.h) include/tunlock.h vmlinux/vmlinux.h

AGENT_SRCS := $(wildcard $(addsuffix /*.c,$(AGENT_DIRS)))
AGENT_HDRS := $(wildcard $(addsuffix /*.h,$(AGENT_DIRS)))
AGENT_OBJS := $(patsubst agent/%.c,$(OUT)/agent/%.o,$(AGENT_SRCS))
LIB_OBJS := $(filter-out $(OUT)/agent/cli/main.o,$(AGENT_OBJS))

# skeletons and objects are kept: tests and benchmarks include them
.SECONDARY: $(BPF_OBJS) $(SKELS)

.PHONY: all clean deps test test-unit test-packet test-lab test-kernels demo bench vmlinux help \
	install units deb sanitizers fuzz

# Installation (make install PREFIX=/usr DESTDIR=/tmp/stage)
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/tunlock
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
METRICSDIR ?= /var/lib/prometheus/node-exporter
UNITS := tunlock.service tunlock-apply.service tunlock-selftest.service tunlock-selftest.timer
all: $(OUT)/tunlock

$(OUT):
	mkdir -p $@

# DWARF goes (the BTF that CO-RE and the verifier's line info need stays): the
# skeletons embed the objects, which the agent reads at every start
$(OUT)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(OUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(LLVM_STRIP) -g $@.tmp -o $@ && rm $@.tmp

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $*_bpf > $@.tmp && mv $@.tmp $@

# The build id: a hash of the BPF objects, recorded with the pins; an agent
# of the same id reuses the pinned programs (agent/kernel/reuse.h).
$(OUT)/build_id.h: $(BPF_OBJS)
	printf '#define TL_BUILD_ID "%s"\n' "$$(cat $(BPF_OBJS) | sha256sum | cut -c1-32)" > $@.tmp && mv $@.tmp $@

$(OUT)/agent/%.o: agent/%.c $(AGENT_HDRS) include/tunlock.h $(SKELS) $(OUT)/build_id.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/tunlock: $(AGENT_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# vmlinux.h is generated from the running kernel's BTF and committed.
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

$(OUT)/test_policy: tests/unit/test_policy.c $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(OUT)/test_events: tests/unit/test_events.c $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(OUT)/test_packet: tests/packet/test_packet.c tests/frames.h tests/bpftest.h $(LIB_OBJS) $(SKELS)
	$(CC) $(CFLAGS) $(filter %.c %.o,$^) -o $@ $(LDLIBS)

$(OUT)/test_socket: tests/socket/test_socket.c tests/bpftest.h $(LIB_OBJS) $(SKELS)
	$(CC) $(CFLAGS) $(filter %.c %.o,$^) -o $@ $(LDLIBS)

# The empty programs (the hooks' floor) are bench-only: not under bpf/,
# which holds one source per enforcement layer.
BENCH_SKELS := $(OUT)/empty.skel.h
.SECONDARY: $(OUT)/empty.bpf.o $(BENCH_SKELS)

$(OUT)/empty.bpf.o: bench/empty.bpf.c vmlinux/vmlinux.h | $(OUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/bench_tc: bench/bench_tc.c tests/frames.h $(LIB_OBJS) $(SKELS) $(BENCH_SKELS)
	$(CC) $(CFLAGS) $(filter %.c %.o,$^) -o $@ $(LDLIBS)

# bench/killswitch's sender and tunnel holder
$(OUT)/udp_send: bench/udp_send.c | $(OUT)
	$(CC) $(CFLAGS) $< -o $@

# bench/ab_lab's A/B of builds of one program under real traffic
$(OUT)/prog_swap: bench/prog_swap.c | $(OUT)
	$(CC) $(CFLAGS) $< -o $@ $(LDLIBS)

# Probes for attributing costs (bench/README.md); not built by `make bench`.
$(OUT)/probes:
	mkdir -p $@

$(OUT)/probes/%.bpf.o: bench/probes/%.bpf.c $(BPF_HDRS) | $(OUT)/probes
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# The unit, packet and socket tiers again under AddressSanitizer and UBSan, and
# libFuzzer harnesses (tests/fuzz/README.md), all with clang's runtimes.
SAN_CC ?= $(CLANG)
SAN_FLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all
SAN_CFLAGS := -std=gnu11 -Wall -Wextra -Iinclude $(AGENT_INC) -I$(OUT)
SAN_LIB := $(patsubst agent/%.c,$(OUT)/asan/agent/%.o,$(filter-out agent/cli/main.c,$(AGENT_SRCS)))
FUZZ_LIB := $(patsubst agent/%.c,$(OUT)/fuzz/agent/%.o,$(filter-out agent/cli/main.c,$(AGENT_SRCS)))
SAN_TESTS := $(OUT)/asan/test_policy $(OUT)/asan/test_events $(OUT)/asan/test_packet \
	$(OUT)/asan/test_socket
FUZZERS := $(OUT)/fuzz/fuzz_policy $(OUT)/fuzz/fuzz_events
FUZZ_SECONDS ?= 300
.SECONDARY: $(SAN_LIB) $(FUZZ_LIB)

$(OUT)/asan/agent/%.o: agent/%.c $(AGENT_HDRS) include/tunlock.h $(SKELS) $(OUT)/build_id.h
	@mkdir -p $(@D)
	$(SAN_CC) $(SAN_CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(OUT)/asan/test_%: tests/unit/test_%.c $(SAN_LIB)
	$(SAN_CC) $(SAN_CFLAGS) $(SAN_FLAGS) $^ -o $@ $(LDLIBS)

$(OUT)/asan/test_packet: tests/packet/test_packet.c tests/frames.h tests/bpftest.h $(SAN_LIB) $(SKELS)
	$(SAN_CC) $(SAN_CFLAGS) $(SAN_FLAGS) $(filter %.c %.o,$^) -o $@ $(LDLIBS)

$(OUT)/asan/test_socket: tests/socket/test_socket.c tests/bpftest.h $(SAN_LIB) $(SKELS)
	$(SAN_CC) $(SAN_CFLAGS) $(SAN_FLAGS) $(filter %.c %.o,$^) -o $@ $(LDLIBS)

$(OUT)/fuzz/agent/%.o: agent/%.c $(AGENT_HDRS) include/tunlock.h $(SKELS) $(OUT)/build_id.h
	@mkdir -p $(@D)
	$(SAN_CC) $(SAN_CFLAGS) $(SAN_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(OUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB)
	$(SAN_CC) $(SAN_CFLAGS) $(SAN_FLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)

sanitizers: $(SAN_TESTS) $(FUZZERS)

# Each harness for FUZZ_SECONDS, from the seed corpus; new inputs go to
# build/fuzz/corpus-*, crashes to build/fuzz/crash-*.
fuzz: $(FUZZERS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_KEEP=1 sh tests/fuzz/run.sh

deps:
	sh tests/deps.sh

test: deps all $(OUT)/test_policy $(OUT)/test_events $(OUT)/test_packet $(OUT)/test_socket \
	sanitizers
	sh tests/run.sh

# Debian's stock 6.1 and 6.12 kernels in qemu (tests/vm/README.md); `make test` runs it as
# its last tier
# (through tests/run.sh: its closing line, and its status is the results')
test-kernels: deps all $(OUT)/test_policy $(OUT)/test_events $(OUT)/test_packet $(OUT)/test_socket
	TUNLOCK_TIERS=kernels TUNLOCK_VM=1 sh tests/run.sh

demo: deps all
	bash tests/lab/demo.sh

bench: deps all $(OUT)/bench_tc $(OUT)/udp_send $(OUT)/prog_swap
	$(OUT)/bench_tc
	bash bench/killswitch
	bash bench/agent_memory

# Units name the installed paths.
units: $(addprefix $(OUT)/systemd/,$(UNITS))

$(OUT)/systemd/%: packaging/systemd/%.in Makefile
	mkdir -p $(@D)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		-e 's|@METRICSDIR@|$(METRICSDIR)|g' $< > $@.tmp && mv $@.tmp $@

install: all units
	install -D -m 0755 $(OUT)/tunlock $(DESTDIR)$(SBINDIR)/tunlock
	for u in $(UNITS); do \
		install -D -m 0644 $(OUT)/systemd/$$u $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -D -m 0644 man/tunlock.8 $(DESTDIR)$(MANDIR)/man8/tunlock.8
	install -D -m 0644 man/tunlock-policy.5 $(DESTDIR)$(MANDIR)/man5/tunlock-policy.5
	install -d $(DESTDIR)$(DOCDIR)/examples
	install -m 0644 examples/*.yaml deploy/kubernetes/daemonset.yaml \
		$(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 docs/*.md docs/*.json $(DESTDIR)$(DOCDIR)/
	install -D -m 0644 packaging/logrotate.tunlock \
		$(DESTDIR)$(SYSCONFDIR)/logrotate.d/tunlock
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/tunlock

# tunlock_<version>_<arch>.deb in $(OUT), from a staged install built with
# Debian's hardening flags (packaging/deb/build.sh)
deb:
	sh packaging/deb/build.sh $(OUT)

clean:
	rm -rf $(OUT)

help:
	@echo "make          build build/tunlock"
	@echo "make deps     install the Debian packages for build, tests and demo"
	@echo "make test     run unit, packet (also under ASan/UBSan), fuzz and lab tests (root)"
	@echo "make test-kernels  the tests on Debian's stock 6.1 and 6.12 kernels in qemu (root)"
	@echo "make fuzz     fuzz the policy reader and event formatters (FUZZ_SECONDS each)"
	@echo "make demo     show leaks without tunlock and none with it (root)"
	@echo "make bench    per-packet cost of the packet programs vs empty ones, then the"
	@echo "              kill switch side by side: no filter, tunlock, nftables (root)"
	@echo "make vmlinux  regenerate vmlinux/vmlinux.h from the running kernel"
	@echo "make install  binary, systemd units, man pages, examples (PREFIX, DESTDIR)"
	@echo "make deb      build/tunlock_<version>_<arch>.deb (dpkg-deb, lintian clean)"
