#!/bin/sh
# Runs every test tier (lint, unit, packet, socket, asan, fuzz, lab) and
# prints one closing line: "N passed, N failed, N skipped". Tiers print
# PASS:/FAIL:/SKIP: lines; a tier that dies without saying why counts as one
# failure.
set -u
cd "$(dirname "$0")/.." || exit 1
log=$(mktemp)
trap 'rm -f "$log"' EXIT

tier() {
	name=$1
	shift
	echo "== $name"
	out=$(mktemp)
	"$@" >"$out" 2>&1
	rc=$?
	# the same tests again under the sanitizers: names of their own
	if [ "$name" = asan ]; then
		sed -i 's/^\(PASS\|FAIL\|SKIP\): /\1: asan: /' "$out"
	fi
	cat "$out"
	grep -E '^(PASS|FAIL|SKIP):' "$out" >>"$log"
	if [ $rc -ne 0 ] && ! grep -q '^FAIL:' "$out"; then
		echo "FAIL: $name: exited with status $rc" | tee -a "$log"
	fi
	rm -f "$out"
}

# The test scripts are code too: shellcheck at severity warning over all of them
shellcheck_tier() {
	command -v shellcheck >/dev/null || { echo "FAIL: shellcheck: not installed (make deps)"; return 1; }
	if sc_out=$(shellcheck -S warning -f gcc tests/*.sh tests/unit/*.sh tests/lab/*.sh tests/lab/lib/*.sh bench/killswitch 2>&1); then
		echo "PASS: shellcheck: tests/*.sh tests/unit/*.sh tests/lab/*.sh tests/lab/lib/*.sh bench/killswitch at -S warning"
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
	tier lab bash tests/lab/run.sh
fi

p=$(grep -c '^PASS:' "$log")
f=$(grep -c '^FAIL:' "$log")
s=$(grep -c '^SKIP:' "$log")
echo
echo "$p passed, $f failed, $s skipped"
[ "$f" -eq 0 ]
