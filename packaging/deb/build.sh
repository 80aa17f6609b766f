#!/bin/sh
# Builds tunlock_<version>_<arch>.deb with dpkg-deb from a staged
# `make install` (no debian/ source package: the tree builds with make).
# The binary is built again, apart, with Debian's hardening flags.
# Usage: packaging/deb/build.sh OUTDIR   (from the top of the tree; make deb)
set -eu
out=${1:?usage: build.sh OUTDIR}
here=packaging/deb
work=$out/deb
obj=$work/obj
stage=$work/root

# version.h wherever the agent's folders put it
version=$(find agent -name version.h -exec sed -n 's/^#define TL_VERSION "\(.*\)"$/\1/p' {} +)
arch=$(dpkg --print-architecture)
# A release without a changelog entry is a packaging mistake, not a default.
head -1 $here/changelog | grep -q "^tunlock ($version) " || {
	echo "deb: $here/changelog has no entry for $version" >&2
	exit 1
}

DEB_BUILD_MAINT_OPTIONS=hardening=+all
export DEB_BUILD_MAINT_OPTIONS
CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
LDFLAGS=$(dpkg-buildflags --get LDFLAGS)
export CFLAGS LDFLAGS
# from scratch: make would not rebuild for changed flags
rm -rf "$work"
make -s OUT="$obj" all
# Debian 12 keeps units in /lib/systemd/system (debhelper's place).
make -s OUT="$obj" PREFIX=/usr SYSCONFDIR=/etc UNITDIR=/lib/systemd/system DESTDIR="$stage" install

doc=$stage/usr/share/doc/tunlock
strip --remove-section=.comment --remove-section=.note --strip-unneeded "$stage/usr/sbin/tunlock"
gzip -9n "$stage"/usr/share/man/man*/*
install -m 0644 $here/copyright "$doc/copyright"
gzip -9nc $here/changelog >"$doc/changelog.gz"
install -m 0644 $here/policy.yaml "$stage/etc/tunlock/policy.yaml"

# Depends: the libraries the binary links, at the versions it was built with
mkdir -p "$work/debian"
printf 'Source: tunlock\n\nPackage: tunlock\nArchitecture: any\n' >"$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O -e"root/usr/sbin/tunlock" 2>/dev/null |
	sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

mkdir -p "$stage/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@SIZE@|$size|" \
	-e "s|@DEPENDS@|$depends|" $here/control.in >"$stage/DEBIAN/control"
(cd "$stage" && find etc -type f | sed 's|^|/|' | sort) >"$stage/DEBIAN/conffiles"
(cd "$stage" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -print |
	sed 's|^\./||' | sort | xargs md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

deb=$out/tunlock_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
