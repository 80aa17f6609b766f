#!/bin/sh
# The fuzz tier: each libFuzzer harness replays the seed corpus (every seed
# once), then fuzzes from it for FUZZ_SECONDS (default 20). One PASS: or
# FAIL: line per step; a failure names the input that failed, kept under
# build/fuzz/. Build the harnesses first: make sanitizers.
set -u
cd "$(dirname "$0")/../.." || exit 1
secs=${FUZZ_SECONDS:-20}
out=build/fuzz
failed=0

# ASan/UBSan stop at the first finding; a leak is one too.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# The first line of what a sanitizer or libFuzzer said, and the log.
finding() {
	echo "$(grep -m1 -E 'ERROR|runtime error|deadly signal|Timeout|out-of-memory' "$1" |
		cut -c1-300) (log $1)"
}

for h in policy events; do
	bin=$out/fuzz_$h
	seeds=tests/fuzz/corpus/$h
	extra=""
	dict=""
	if [ "$h" = policy ]; then
		extra=examples
		dict=-dict=tests/fuzz/policy.dict
	fi
	if [ ! -x "$bin" ]; then
		echo "FAIL: fuzz $h: $bin is not built (make sanitizers)"
		failed=1
		continue
	fi
	log=$out/fuzz_$h.log
	# replay: the files as arguments, each run once; a hostile seed may
	# take 10 s under the sanitizers, never more
	# shellcheck disable=SC2046
	if "$bin" -timeout=10 -rss_limit_mb=1024 \
		$(find "$seeds" $extra -type f -name '*' | sort) >"$log" 2>&1; then
		echo "PASS: fuzz $h: the seed corpus replays clean" \
			"($(find "$seeds" $extra -type f | wc -l) inputs)"
	else
		echo "FAIL: fuzz $h: seed $(grep '^Running: ' "$log" | tail -1 | cut -d' ' -f2): $(finding "$log")"
		failed=1
		continue
	fi
	# fuzz: new inputs to a scratch corpus, the seeds stay as they are
	work=$out/corpus-$h
	[ "${FUZZ_KEEP:-0}" = 1 ] || rm -rf "$work"
	mkdir -p "$work"
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
		-max_len=65536 -artifact_prefix="$out/crash-$h-" $dict \
		"$work" "$seeds" $extra >"$log" 2>&1; then
		echo "PASS: fuzz $h: $secs s, $(grep -o 'Done [0-9]* runs' "$log" | tail -1 | cut -d' ' -f2) runs, no finding"
	else
		echo "FAIL: fuzz $h: $(grep -o 'Test unit written to [^ ]*' "$log" | tail -1): $(finding "$log")"
		failed=1
	fi
done
exit $failed
