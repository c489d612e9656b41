#!/bin/sh
# Builds a Debian package of a built Culex checkout (after `npm ci`): dist/culex_<version>_<arch>.deb
# with the same layout as scripts/install.sh, except the command is /usr/bin/culex and the unit is
# /lib/systemd/system/culex.service. The architecture is the machine's: better-sqlite3 is a native
# module. Needs dpkg-deb; runs as any user (file ownership is set with --root-owner-group).
# Usage: scripts/build-deb.sh [OUTPUT_DIR]
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$SRC/dist-deb}
command -v dpkg-deb >/dev/null || { echo "build-deb.sh: dpkg-deb not found" >&2; exit 1; }
VERSION=$(node -p 'require(process.argv[1]).version' "$SRC/package.json")
ARCH=$(dpkg --print-architecture)
ROOT=$(mktemp -d)
chmod 755 "$ROOT"
trap 'rm -rf "$ROOT"' EXIT

# the program finds node on the PATH at run time: the package depends on nodejs >= 20
"$SRC/scripts/stage-program.sh" "$ROOT/opt/culex" node /opt/culex
mkdir -p "$ROOT/usr/bin" "$ROOT/etc/culex/conf.d" "$ROOT/etc/init.d" "$ROOT/lib/systemd/system" "$ROOT/DEBIAN"
ln -s /opt/culex/bin/culex "$ROOT/usr/bin/culex"
install -m 0644 "$SRC/packaging/culex.conf" "$ROOT/etc/culex/culex.conf"
install -m 0755 "$SRC/packaging/init.d/culex" "$ROOT/etc/init.d/culex"
install -m 0644 "$SRC/packaging/systemd/culex.service" "$ROOT/lib/systemd/system/culex.service"
for script in postinst prerm postrm; do install -m 0755 "$SRC/packaging/debian/$script" "$ROOT/DEBIAN/$script"; done
printf '/etc/culex/culex.conf\n/etc/init.d/culex\n' > "$ROOT/DEBIAN/conffiles"
SIZE=$(du -sk "$ROOT" | cut -f1)
cat > "$ROOT/DEBIAN/control" <<CONTROL
Package: culex
Version: $VERSION
Architecture: $ARCH
Maintainer: Culex developers <culex@localhost>
Installed-Size: $SIZE
Depends: nodejs (>= 20), adduser, lsb-base | sysvinit-utils
Recommends: iproute2
Section: net
Priority: optional
Description: MQTT 3.1/3.1.1/5.0 broker and toolkit for Node.js
 Culex is an MQTT broker that aims to be a drop-in for Eclipse Mosquitto: it reads
 mosquitto.conf, writes Mosquitto's log lines and publishes the \$SYS tree. It also
 ships command-line clients (culex pub, culex sub, culex rr) and culex passwd.
CONTROL
mkdir -p "$OUT"
dpkg-deb --root-owner-group -Zgzip --build "$ROOT" "$OUT/culex_${VERSION}_${ARCH}.deb" >/dev/null
echo "$OUT/culex_${VERSION}_${ARCH}.deb"
