#!/bin/sh
# Runs every test tier (lint, unit, packet, socket, asan, fuzz, lab, kernels) and
# prints one closing line: "N passed, N failed, N skipped". Tiers print
# PASS:/FAIL:/SKIP: lines; a tier that dies without saying why counts as one
# failure. TUNLOCK_TIERS names the tiers to run (default: all of them; the VM
# tier runs "unit packet socket lab" in its guests), TUNLOCK_LAB_TESTS the lab
# tests (name prefixes; default: all).
set -u
cd "$(dirname "$0")/.." || exit 1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
tiers=${TUNLOCK_TIERS:-lint unit packet socket asan fuzz lab kernels}

tier() {
	name=$1
	shift
	case " $tiers " in *" $name "*) ;; *) return 0 ;; esac
	echo "== $name"
	out=$(mktemp)
	# streamed as it comes (the VM tier's guests report over a serial port);
	# the same tests again under the sanitizers get names of their own
	{
		"$@" 2>&1
		echo $? >"$out.rc"
	} | if [ "$name" = asan ]; then
		sed -u 's/^\(PASS\|FAIL\|SKIP\): /\1: asan: /'
	else
		cat
	fi | tee "$out"
	rc=$(cat "$out.rc")
	rm -f "$out.rc"
	grep -E '^(PASS|FAIL|SKIP):' "$out" >>"$log"
	if [ $rc -ne 0 ] && ! grep -q '^FAIL:' "$out"; then
		echo "FAIL: $name: exited with status $rc" | tee -a "$log"
	fi
	rm -f "$out"
}

# The test scripts are code too: shellcheck at severity warning over all of them
shellcheck_tier() {
	command -v shellcheck >/dev/null || { echo "FAIL: shellcheck: not installed (make deps)"; return 1; }
	if sc_out=$(shellcheck -S warning -f gcc tests/*.sh tests/unit/*.sh tests/lab/*.sh tests/lab/lib/*.sh bench/killswitch bench/agent_memory bench/ab_lab tests/vm/*.sh 2>&1); then
		echo "PASS: shellcheck: tests/*.sh tests/unit/*.sh tests/lab/*.sh tests/lab/lib/*.sh bench/killswitch bench/agent_memory bench/ab_lab tests/vm/*.sh at -S warning"
	else
		echo "$sc_out" | sed 's/^/FAIL: shellcheck: /'
	fi
}

tier lint shellcheck_tier
tier unit build/test_policy
tier unit build/test_events
tier unit sh tests/unit/test_install.sh
# the .deb: lintian, then dpkg -i, check, verify and dpkg -P on this machine
tier unit sh tests/unit/test_deb.sh
tier unit bash tests/unit/test_check.sh
tier packet build/test_packet
# the socket hooks on real sockets, in a namespace and cgroup of their own
tier socket build/test_socket
# unit, packet and socket tiers under AddressSanitizer and UBSan (make sanitizers)
tier asan build/asan/test_policy
tier asan build/asan/test_events
tier asan build/asan/test_packet
tier asan build/asan/test_socket
# the seed corpus replayed, then FUZZ_SECONDS (20) of fuzzing per harness
tier fuzz sh tests/fuzz/run.sh
if [ "${TUNLOCK_SKIP_LAB:-0}" = 1 ]; then
	echo "SKIP: lab: TUNLOCK_SKIP_LAB=1" | tee -a "$log"
else
	# shellcheck disable=SC2086
	tier lab bash tests/lab/run.sh ${TUNLOCK_LAB_TESTS:-}
fi
# Debian's stock 6.1 and 6.12 kernels in qemu: the unit, packet and socket tiers
# and one lab test per layer there, BPF LSM included (tests/vm/README.md; make
# test-kernels). TUNLOCK_VM=0 leaves it out (a quicker run on the host's kernel alone).
if [ "${TUNLOCK_VM:-1}" = 1 ]; then
	tier kernels bash tests/vm/run.sh
else
	case " $tiers " in *" kernels "*)
		echo "SKIP: kernels: TUNLOCK_VM=0" | tee -a "$log" ;;
	esac
fi

p=$(grep -c '^PASS:' "$log")
f=$(grep -c '^FAIL:' "$log")
s=$(grep -c '^SKIP:' "$log")
echo
echo "$p passed, $f failed, $s skipped"
[ "$f" -eq 0 ]
