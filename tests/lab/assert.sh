# shellcheck shell=bash
# Results of the leak lab: PASS:/FAIL:/SKIP: lines and their counts. Sourced by lib.sh (and by
# tests/unit/test_check.sh, which proves check itself).
LAB_NPASS=0 LAB_NFAIL=0 LAB_NSKIP=0
pass() { echo "PASS: $1"; LAB_NPASS=$((LAB_NPASS + 1)); }
fail() { local n=$1; shift; echo "FAIL: $n: ${*:-failed}"; LAB_NFAIL=$((LAB_NFAIL + 1)); }
skip() { local n=$1; shift; echo "SKIP: $n: ${*:-skipped}"; LAB_NSKIP=$((LAB_NSKIP + 1)); }
note() { echo "# $*"; }
# check NAME WHY COND [--and COND]...: PASS NAME when every COND succeeds, else FAIL NAME: WHY
# and the conditions that failed. A COND is one command and its arguments ([ "$n" -eq 0 ], a
# function, or `eval '...'`); every COND is run, each inside check. Never `check N W [ a ] && [ b ]`:
# the shell runs `[ b ]` after check and drops its result (tests/lab/lint.py refuses it).
# Output of the conditions is not redirected: pass/fail lines go to stdout.
check() {
	local __name=$1 __why=$2 __bad="" __a
	local -a __c=()
	shift 2
	for __a in "$@" --and; do
		if [ "$__a" != --and ]; then
			__c+=("$__a")
		elif [ ${#__c[@]} -eq 0 ]; then
			__bad+=" [empty condition]"
		else
			"${__c[@]}" || __bad+=" [failed: ${__c[*]}]"
			__c=()
		fi
	done
	if [ -z "$__bad" ]; then pass "$__name"; else fail "$__name" "$__why$__bad"; fi
}
