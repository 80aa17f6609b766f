#!/bin/bash
# The lab's assertion primitive and its lint: `check NAME WHY COND [--and COND]...` PASSes only
# when every condition holds and FAILs when any one fails; tests/lab/lint.py refuses a check cut
# short by && || or |, and accepts the lab as it is. PASS:/FAIL: lines.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/lab/assert.sh
. tests/lab/assert.sh
PY=${LAB_PY:-python3}
nfail=0
ok() { echo "PASS: check: $1"; }
bad() { echo "FAIL: check: $1: $2"; nfail=$((nfail + 1)); }

# expect WANT CASE check-args...: run check in a subshell; WANT is PASS or FAIL, and the one
# line it prints and its counters must agree
expect() {
	local want=$1 case=$2 out
	shift 2
	out=$(check "c" "why" "$@"; echo "counts $LAB_NPASS $LAB_NFAIL")
	case $want in
	PASS) [ "$out" = $'PASS: c\ncounts 1 0' ] ;;
	FAIL) [[ $out == $'FAIL: c: why'*$'\ncounts 0 1' ]] && [ "$(grep -c '^[A-Z]*:' <<<"$out")" = 1 ] ;;
	esac && ok "$case" || bad "$case" "want $want, got: $(tr '\n' '|' <<<"$out")"
}

expect PASS "one true condition passes" [ 1 = 1 ]
expect FAIL "one false condition fails" [ 1 = 2 ]
expect PASS "all of two conditions true passes" [ 1 = 1 ] --and [ 2 = 2 ]
expect FAIL "second of two false fails" [ 1 = 1 ] --and [ 1 = 2 ]
expect FAIL "first of two false fails" [ 1 = 2 ] --and [ 1 = 1 ]
expect FAIL "middle of three false fails" true --and false --and true
expect PASS "three true pass" true --and true --and [ -n x ]
expect FAIL "no condition fails"
expect FAIL "an empty condition fails" true --and
expect FAIL "an eval'd && with a false half fails" eval '[ 1 = 1 ] && [ 1 = 2 ]'
holds() { [ "$1" = yes ]; }
expect PASS "functions as conditions" holds yes --and holds yes
expect FAIL "a failing function as condition" holds yes --and holds no
out=$(check c why true --and false --and [ x = y ])
[[ $out == *"[failed: false] [failed: [ x = y ]]" ]] && ok "FAIL names every failed condition" ||
	bad "FAIL names every failed condition" "$out"
ran=0
out=$(check c why false --and eval 'ran=1; true'; echo "ran=$ran")
[[ $out == *ran=1 ]] && ok "conditions after a failed one still run" || bad "conditions after a failed one still run" "$out"
# why the lint exists: the shell gives check only `[ 1 = 1 ]`, and the false half is lost
# shellcheck disable=SC2050 # the misuse, on purpose
out=$(check c why [ 1 = 1 ] && [ 1 = 2 ])
[ "$out" = "PASS: c" ] && ok "the && misuse passes (so the lint must refuse it)" ||
	bad "the && misuse passes (so the lint must refuse it)" "$out"

# the lint
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
lint() { # WANT(0|1) CASE: lint $tmp/t.sh
	local out rc
	out=$("$PY" tests/lab/lint.py "$tmp/t.sh" 2>&1)
	rc=$?
	if [ "$rc" = "$1" ] && { [ "$1" = 0 ] || grep -q "t.sh:$3:" <<<"$out"; }; then ok "lint: $2"; else
		bad "lint: $2" "rc $rc (want $1${3:+ at line $3}): $out"
	fi
}
printf '%s\n' 'check n "w" [ "$a" = 1 ] && [ "$b" = 2 ]' >"$tmp/t.sh"
lint 1 "refuses check ... ] && [" 1
printf '%s\n' 'x=1' 'check n "w" [ "$a" = 1 ] || [ "$b" = 2 ]' >"$tmp/t.sh"
lint 1 "refuses check ... ] || [" 2
printf '%s\n' 'check n "w $(echo "a | b")" \' '	grep -q x f | wc -l' >"$tmp/t.sh"
lint 1 "refuses a pipe after a continued line" 1
printf '%s\n' 'f() {' '	cat <<EOF' "it's a here-document: \"check\" && ]" 'EOF' \
	'	check n "w" [ 1 ] && [ 2 ]' '}' >"$tmp/t.sh"
lint 1 "reads past a here-document" 5
printf '%s\n' 'if true; then check n w [ 1 ] && [ 2 ]; fi' >"$tmp/t.sh"
lint 1 "refuses it after then" 1
printf '%s\n' "check n \"w\" eval '[ \"\$a\" = 1 ] && [ \"\$b\" = 2 ]'" >"$tmp/t.sh"
lint 0 "accepts && inside a quoted eval"
printf '%s\n' 'check n "w: $(x | y) && z" [ "$a" = 1 ] --and [ "$b" = 2 ]' >"$tmp/t.sh"
lint 0 "accepts --and, and operators inside quotes"
printf '%s\n' '[ -n "$x" ] && check n w [ 1 ]' 'out=$(tunlock check -c f 2>&1) || echo bad' \
	'check n w grep -q x f 2>&1 >&2' '# check n w [ 1 ] && [ 2 ]' >"$tmp/t.sh"
lint 0 "accepts a check after &&, other commands named check, redirections and comments"
if out=$("$PY" tests/lab/lint.py tests/lab/*.sh tests/lab/lib/*.sh 2>&1); then ok "lint: the lab passes"; else
	bad "lint: the lab passes" "$out"
fi
[ "$nfail" -eq 0 ]
