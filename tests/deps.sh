#!/bin/sh
# Installs, idempotently, every Debian package that building, testing and
# the demo need. Nothing else is assumed on a fresh Debian 12 machine.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

build="clang llvm make gcc pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev libyaml-dev"
# clang's ASan, UBSan and libFuzzer runtimes (make sanitizers, make fuzz)
build="$build libclang-rt-14-dev"
# systemd-analyze (unit verification), groff (man page lint), shellcheck (the test scripts)
# dpkg-dev (dpkg-shlibdeps, dpkg-buildflags) and lintian (make deb and its test)
ops="systemd groff-base shellcheck dpkg-dev lintian"
# the VM tier (tests/vm): qemu; its kernels and busybox-static are fetched as .debs, not installed
ops="$ops qemu-system-x86"
lab=$(grep -v '^#' "$here/lab/packages.txt" 2>/dev/null | tr '\n' ' ')

# promtool comes in Debian's prometheus package, whose installation would also
# enable and start a Prometheus server: take promtool alone out of the .deb.
fetch_promtool() {
	tools="$here/../build/tools"
	command -v promtool >/dev/null 2>&1 || [ -x "$tools/promtool" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: promtool missing (run as root to fetch it)" >&2
		return 1
	fi
	tmp=$(mktemp -d) && chmod 755 "$tmp"
	(cd "$tmp" && apt-get download -qq prometheus >/dev/null && dpkg-deb -x prometheus_*.deb x) &&
		mkdir -p "$tools" && cp "$tmp/x/usr/bin/promtool" "$tools/promtool"
	rc=$?
	rm -rf "$tmp"
	[ $rc -eq 0 ] && echo "deps: promtool in $tools"
	return $rc
}

missing=""
for p in $build $lab $ops; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	fetch_promtool
	exit $?
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
fetch_promtool
