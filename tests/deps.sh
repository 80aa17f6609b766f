#!/bin/sh
# Installs, idempotently, every Debian package that building, testing and
# the demo need. Nothing else is assumed on a fresh Debian 12 machine.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

build="clang llvm make gcc pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev libyaml-dev"
lab=$(grep -v '^#' "$here/lab/packages.txt" 2>/dev/null | tr '\n' ' ')

missing=""
for p in $build $lab; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
