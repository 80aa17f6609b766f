#!/bin/sh
# The Debian package (make deb): lintian clean at error and warning, then installed on this
# machine with dpkg -i (its units are never enabled or started: the package has no maintainer
# scripts), the installed example policy checked, the units verified, and purged with dpkg -P
# leaving nothing behind. PASS:/FAIL:/SKIP: lines.
cd "$(dirname "$0")/../.." || exit 1
pass() { echo "PASS: deb: $1"; }
fail() { echo "FAIL: deb: $1: $2"; }
skip() { echo "SKIP: deb: $1"; }
oneline() { head -"${2:-3}" | tr '\n' '|'; }

[ "$(id -u)" -eq 0 ] || { skip "not root (dpkg -i)"; exit 0; }
# the VM tier's guests: the package is the same on every kernel, and proven on the host
[ -z "${TUNLOCK_VM_GUEST:-}" ] ||
	{ skip "in the VM tier's guest on $TUNLOCK_VM_GUEST: the host's run checks the package (under TCG, make deb and lintian took over 10 min)"; exit 0; }
command -v dpkg-deb >/dev/null && command -v dpkg-shlibdeps >/dev/null ||
	{ fail "tools" "no dpkg-deb or dpkg-shlibdeps (make deps)"; exit 1; }
# A tunlock installed by the admin is theirs: never replace or purge it.
if dpkg-query -W -f='${Status}' tunlock 2>/dev/null | grep -q ' installed$'; then
	skip "a tunlock package is installed on this machine already"
	exit 0
fi

# one test_deb at a time on this machine (dpkg, and build/deb of the worktree)
lock=/run/lock/tunlock-test-deb.lock
exec 9>"$lock"
flock -w 600 9 || { fail "lock" "another test_deb holds $lock"; exit 1; }

if ! deb=$(make -s deb 2>&1 | tail -1) || [ ! -f "$deb" ]; then
	fail "make deb" "$(echo "$deb" | oneline)"
	exit 1
fi
case $(basename "$deb") in
tunlock_"$(find agent -name version.h -exec sed -n 's/^#define TL_VERSION "\(.*\)"$/\1/p' {} +)"_"$(dpkg --print-architecture)".deb)
	pass "make deb builds $(basename "$deb")" ;;
*) fail "make deb" "unexpected name $deb" ;;
esac

if command -v lintian >/dev/null; then
	out=$(lintian --fail-on error,warning "$deb" 2>&1)
	rc=$?
	out=$(echo "$out" | grep -v '^running with root privileges')
	[ $rc -eq 0 ] && [ -z "$out" ] && pass "lintian: no error or warning" ||
		fail "lintian" "rc $rc: $(echo "$out" | oneline 6)"
else
	fail "lintian" "not installed (make deps)"
fi

depends=$(dpkg-deb -f "$deb" Depends)
for lib in libbpf1 libyaml-0-2 libc6; do
	echo "$depends" | grep -q "\\b$lib\\b" && pass "Depends names $lib" || fail "Depends" "no $lib in: $depends"
done
echo "$depends" | grep -Eq 'libbpf1 \(>= [^)]+\)' && pass "Depends: libbpf1 with a version" ||
	fail "Depends: libbpf1 version" "$depends"

# What the package holds that this machine does not have: all of it must go again on purge.
new=$(mktemp) || exit 1
dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's|^\./|/|; s|/$||' | grep -v '^/*$' | while read -r f; do
	[ -e "$f" ] || echo "$f"
done >"$new"
units_before=$(find /etc/systemd /run/systemd/system -name '*tunlock*' 2>/dev/null | sort)

trap 'dpkg -P tunlock >/dev/null 2>&1; rm -f "$new"' EXIT

if ! out=$(dpkg -i "$deb" 2>&1); then
	fail "dpkg -i" "$(echo "$out" | oneline)"
	exit 1
fi
pass "dpkg -i installs it"
[ -x /usr/sbin/tunlock ] && /usr/sbin/tunlock --version | grep -q '^tunlock ' &&
	pass "installed /usr/sbin/tunlock runs" || fail "installed binary" "no version"
out=$(/usr/sbin/tunlock check -c /etc/tunlock/policy.yaml 2>&1) &&
	pass "tunlock check on the installed /etc/tunlock/policy.yaml: $out" ||
	fail "tunlock check /etc/tunlock/policy.yaml" "$(echo "$out" | oneline)"
grep -q '^mode: audit' /etc/tunlock/policy.yaml && grep -q '^#' /etc/tunlock/policy.yaml &&
	pass "the example policy is commented and starts in audit mode" || fail "example policy" "not audit or no comments"
conf=$(dpkg-query -W -f='${Conffiles}' tunlock)
echo "$conf" | grep -q '^ /etc/tunlock/policy.yaml ' && echo "$conf" | grep -q '^ /etc/logrotate.d/tunlock ' &&
	pass "conffiles: /etc/tunlock/policy.yaml, /etc/logrotate.d/tunlock" || fail "conffiles" "$(echo "$conf" | oneline)"
for m in tunlock.8 tunlock-policy.5; do
	f=$(dpkg -L tunlock | grep "/man/man./$m.gz\$")
	[ -n "$f" ] && zcat "$f" | grep -q '^\.TH' && pass "man page $m.gz" || fail "man page $m" "missing"
done
[ -f /usr/share/doc/tunlock/examples/desktop.yaml ] && [ -f /usr/share/doc/tunlock/events.md ] &&
	[ -f /usr/share/doc/tunlock/copyright ] && pass "examples, docs, copyright" || fail "docs" "missing"

units=$(dpkg -L tunlock | grep '/systemd/system/tunlock[^/]*\.\(service\|timer\)$')
if [ -z "$units" ]; then
	fail "units" "none installed"
elif command -v systemd-analyze >/dev/null; then
	# shellcheck disable=SC2086 # one path a word
	out=$(systemd-analyze verify $units 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [ -z "$out" ] && pass "systemd-analyze verify $(echo "$units" | xargs -n1 basename | tr '\n' ' ')" ||
		fail "systemd-analyze verify" "rc $rc: $(echo "$out" | oneline 4)"
else
	fail "systemd-analyze verify" "no systemd-analyze (make deps)"
fi
[ "$(find /etc/systemd /run/systemd/system -name '*tunlock*' 2>/dev/null | sort)" = "$units_before" ] &&
	pass "no unit enabled or started by the installation" ||
	fail "units enabled" "$(find /etc/systemd /run/systemd/system -name '*tunlock*' | oneline)"

if ! out=$(dpkg -P tunlock 2>&1); then
	fail "dpkg -P" "$(echo "$out" | oneline)"
	exit 1
fi
pass "dpkg -P purges it"
left=$(while read -r f; do [ -e "$f" ] && echo "$f"; done <"$new")
left="$left$(ls /var/lib/dpkg/info/tunlock.* 2>/dev/null)"
[ -z "$left" ] && pass "nothing left behind ($(wc -l <"$new") new paths gone, conffiles included)" ||
	fail "left behind" "$(echo "$left" | oneline 5)"
st=$(dpkg-query -W -f='${Status}' tunlock 2>/dev/null)
case $st in "" | *not-installed) pass "dpkg no longer knows tunlock" ;; *) fail "dpkg status" "$st" ;; esac
[ "$(find /etc/systemd /run/systemd/system -name '*tunlock*' 2>/dev/null | sort)" = "$units_before" ] &&
	pass "no unit link left" || fail "unit links left" "$(find /etc/systemd -name '*tunlock*' | oneline)"
