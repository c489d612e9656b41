#!/bin/sh
# Removes what scripts/install.sh installed: stops the service, removes the program, the command,
# the service definitions. Configuration, data and logs are kept unless --purge is given; --purge
# also removes the culex system user.
# Usage: sudo scripts/uninstall.sh [--purge]
set -eu

PREFIX=/opt/culex
BINLINK=/usr/local/bin/culex
USER=culex

fail() { echo "uninstall.sh: $*" >&2; exit 1; }
PURGE=no
for arg in "$@"; do
	case $arg in
		--purge) PURGE=yes ;;
		-h | --help) sed -n '2,6p' "$0"; exit 0 ;;
		*) fail "unknown option $arg" ;;
	esac
done
[ "$(id -u)" = 0 ] || fail "run me as root (sudo $0)"

if [ -d /run/systemd/system ] && [ -f /etc/systemd/system/culex.service ]; then
	systemctl disable --now culex.service || true
fi
if [ -x /etc/init.d/culex ]; then
	/etc/init.d/culex stop || true
fi
if command -v update-rc.d >/dev/null 2>&1; then
	update-rc.d -f culex remove >/dev/null 2>&1 || true
fi
rm -f /etc/init.d/culex /etc/systemd/system/culex.service
[ -d /run/systemd/system ] && systemctl daemon-reload || true
if [ -L "$BINLINK" ] && [ "$(readlink "$BINLINK")" = "$PREFIX/bin/culex" ]; then rm -f "$BINLINK"; fi
rm -rf "$PREFIX" "$PREFIX.new" "$PREFIX.old" /run/culex

if [ "$PURGE" = yes ]; then
	rm -rf /etc/culex /var/lib/culex /var/log/culex
	if getent passwd "$USER" >/dev/null; then
		if command -v deluser >/dev/null 2>&1; then deluser --quiet --system "$USER" >/dev/null 2>&1 || userdel "$USER"; else userdel "$USER"; fi
	fi
	getent group "$USER" >/dev/null && { groupdel "$USER" 2>/dev/null || true; }
	echo "Culex removed, with its configuration, data, logs and user."
else
	echo "Culex removed; /etc/culex, /var/lib/culex and /var/log/culex are kept (--purge removes them)."
fi
