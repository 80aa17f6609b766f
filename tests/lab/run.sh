#!/bin/bash
# tests/lab/run.sh [NAME_OR_PATTERN...]: run the leak lab tests (tests/lab/t*.sh), each in its
# own lab (its own namespaces, cgroup and pins), print their PASS/FAIL/SKIP lines and, last,
# "N passed, N failed, N skipped". Exit 0 only when nothing failed.
#   run.sh               every test        run.sh t00 t05   the tests whose names start so
# Environment: TUNLOCK (agent binary, default build/tunlock), LAB_TEST_TIMEOUT (s per test,
# default 600), LAB_KEEP=1 (keep every lab's logs; failed labs keep theirs anyway).
# First tests/lab/lint.py must accept every lab file (see README.md, Assertions).
set -u
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0 skipped=0

finish() {
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit $?
}

# No check may be cut short by && || or |: what follows would run outside check, unasserted.
if ! lint=$("${LAB_PY:-python3}" "$here/lint.py" "$here"/*.sh "$here"/lib/*.sh 2>&1); then
	while IFS= read -r l; do echo "FAIL: lab_lint: $l"; failed=$((failed + 1)); done <<<"$lint"
	echo "# the lab refuses to run until tests/lab/lint.py passes"
	finish
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: lab: the leak lab needs root (network namespaces, cgroups, bpffs); run it as root"
	skipped=1
	finish
fi

tests=()
for t in "$here"/t[0-9]*.sh; do
	b=$(basename "$t" .sh)
	if [ $# -eq 0 ]; then tests+=("$t"); continue; fi
	for p in "$@"; do [[ $b == "$p"* ]] && { tests+=("$t"); break; }; done
done
[ "${#tests[@]}" -gt 0 ] || { echo "FAIL: lab: no test matches: $*"; failed=1; finish; }

rundir=$(mktemp -d /tmp/tunlock-labrun.XXXXXX)
stop=0
trap 'stop=1' INT TERM
for t in "${tests[@]}"; do
	[ "$stop" = 0 ] || break
	b=$(basename "$t" .sh)
	out=$rundir/$b.out err=$rundir/$b.err
	echo "# $b"
	timeout -k 30 "${LAB_TEST_TIMEOUT:-600}" bash "$t" </dev/null 2>"$err" | tee "$out"
	rc=${PIPESTATUS[0]}
	p=$(grep -c '^PASS: ' "$out") f=$(grep -c '^FAIL: ' "$out") s=$(grep -c '^SKIP: ' "$out")
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "FAIL: $b: timed out after ${LAB_TEST_TIMEOUT:-600} s"
		f=$((f + 1))
	elif [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "FAIL: $b: exited with status $rc without a FAIL line"
		f=$((f + 1))
	elif [ $((p + f + s)) = 0 ]; then
		echo "FAIL: $b: printed no result"
		f=$((f + 1))
	fi
	# the lab must leave nothing behind
	left=$("$here/cleanup.sh" 2>&1)
	if [ -n "$left" ]; then
		echo "FAIL: ${b}_leftovers: $(echo "$left" | head -3 | tr '\n' ' ')"
		f=$((f + 1))
	fi
	if [ "$f" -gt 0 ]; then
		echo "# $b stderr (last lines; all of it in $err):"
		tail -n 15 "$err" | sed 's/^/#   /'
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done
[ "$stop" = 0 ] || { echo "FAIL: lab: interrupted"; failed=$((failed + 1)); }
[ "$failed" -eq 0 ] && [ "${LAB_KEEP:-0}" != 1 ] && rm -rf "$rundir"
finish
