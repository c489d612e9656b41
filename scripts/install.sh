#!/bin/sh
# Installs a built Culex checkout as a system service (run as root, from the checkout, after
# `npm ci`, which also builds dist/):
#   /opt/culex                  the program: dist/, package.json, production node_modules, bin/culex
#   /usr/local/bin/culex        the command on the PATH (a link to /opt/culex/bin/culex)
#   /etc/culex/culex.conf       the configuration (kept if it exists), /etc/culex/conf.d
#   /var/lib/culex              data, owned by the system user culex
#   /var/log/culex              logs, owned by culex
#   /etc/systemd/system/culex.service and /etc/init.d/culex, enabled at boot
# Usage: sudo scripts/install.sh [--no-enable]
set -eu

PREFIX=/opt/culex
BINLINK=/usr/local/bin/culex
CONFDIR=/etc/culex
DATADIR=/var/lib/culex
LOGDIR=/var/log/culex
USER=culex

fail() { echo "install.sh: $*" >&2; exit 1; }

ENABLE=yes
for arg in "$@"; do
	case $arg in
		--no-enable) ENABLE=no ;;
		-h | --help) sed -n '2,12p' "$0"; exit 0 ;;
		*) fail "unknown option $arg" ;;
	esac
done

[ "$(id -u)" = 0 ] || fail "run me as root (sudo $0)"
SRC=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$SRC/dist/cli/culex.js" ] || fail "$SRC/dist is missing: run npm ci (or npm run build) first"
NODE=$(command -v node) || fail "node is not on the PATH (Culex needs Node.js 20 or later)"
NODE=$(readlink -f "$NODE")
major=$("$NODE" -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || fail "Node.js $("$NODE" --version) is too old; Culex needs 20 or later"

# The system user: no login, no home of its own beyond the data directory.
if ! getent passwd "$USER" >/dev/null; then
	if command -v adduser >/dev/null 2>&1 && adduser --help 2>&1 | grep -q -- '--system'; then
		adduser --system --group --quiet --home "$DATADIR" --no-create-home --shell /usr/sbin/nologin --gecos "Culex MQTT broker" "$USER"
	else
		useradd --system --user-group --home-dir "$DATADIR" --no-create-home --shell /usr/sbin/nologin --comment "Culex MQTT broker" "$USER"
	fi
	echo "created system user $USER"
fi
# The node binary must be usable by that user (not under /root, say).
su -s /bin/sh -c "'$NODE' --version" "$USER" >/dev/null 2>&1 || fail "$NODE cannot be run by user $USER; install Node.js system-wide (e.g. /usr/bin/node)"

# The program, assembled beside the old one and swapped in at once.
STAGE=$PREFIX.new
"$SRC/scripts/stage-program.sh" "$STAGE" "$NODE" "$PREFIX"
chown -R root:root "$STAGE"
rm -rf "$PREFIX.old"
[ -d "$PREFIX" ] && mv "$PREFIX" "$PREFIX.old"
mv "$STAGE" "$PREFIX"
rm -rf "$PREFIX.old"
ln -sf "$PREFIX/bin/culex" "$BINLINK"

# Configuration: an existing culex.conf is the administrator's and is kept.
install -d -o root -g "$USER" -m 0750 "$CONFDIR" "$CONFDIR/conf.d"
if [ -f "$CONFDIR/culex.conf" ]; then
	install -o root -g "$USER" -m 0640 "$SRC/packaging/culex.conf" "$CONFDIR/culex.conf.dist"
	echo "kept $CONFDIR/culex.conf (the shipped default is $CONFDIR/culex.conf.dist)"
else
	install -o root -g "$USER" -m 0640 "$SRC/packaging/culex.conf" "$CONFDIR/culex.conf"
fi
install -d -o "$USER" -g "$USER" -m 0750 "$DATADIR" "$LOGDIR"

# Both service definitions: systemd uses the unit, sysvinit (and `service` without systemd) the script.
install -m 0755 "$SRC/packaging/init.d/culex" /etc/init.d/culex
if [ -d /etc/systemd/system ] || command -v systemctl >/dev/null 2>&1; then
	install -d /etc/systemd/system
	install -m 0644 "$SRC/packaging/systemd/culex.service" /etc/systemd/system/culex.service
fi

if [ "$ENABLE" = yes ]; then
	if [ -d /run/systemd/system ]; then
		# systemd is PID 1
		systemctl daemon-reload
		systemctl enable culex.service
	elif command -v update-rc.d >/dev/null 2>&1; then
		update-rc.d culex defaults >/dev/null
	elif command -v chkconfig >/dev/null 2>&1; then
		chkconfig --add culex
	fi
fi

"$PREFIX/bin/culex" broker --test-config -c "$CONFDIR/culex.conf" >/dev/null
echo "Culex $("$PREFIX/bin/culex" --version) installed in $PREFIX; configuration $CONFDIR/culex.conf."
if [ -d /run/systemd/system ]; then
	echo "Start it with: systemctl start culex   (or: service culex start)"
else
	echo "Start it with: service culex start"
fi
