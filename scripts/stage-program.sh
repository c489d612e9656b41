#!/bin/sh
# Assembles the installed form of Culex in DEST: dist/, package.json, the production node_modules
# (what `npm ls --omit=dev` lists, copied from the checkout, so no network is needed), docs, and
# bin/culex, a wrapper that runs dist/cli/culex.js with NODE. Used by install.sh and build-deb.sh.
# Usage: scripts/stage-program.sh DEST NODE PREFIX
#   NODE: an absolute node path, or `node` to look it up on the PATH at run time
#   PREFIX: where DEST will live once installed (the wrapper names it), e.g. /opt/culex
set -eu
[ $# -eq 3 ] || { echo "usage: $0 DEST NODE PREFIX" >&2; exit 2; }
DEST=$1
NODE=$2
PREFIX=$3
SRC=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$SRC/dist/cli/culex.js" ] || { echo "$SRC/dist is missing: run npm ci (or npm run build) first" >&2; exit 1; }

rm -rf "$DEST"
mkdir -p "$DEST/bin"
cp -R "$SRC/dist" "$SRC/package.json" "$DEST/"
for file in package-lock.json README.md LICENSE; do [ -f "$SRC/$file" ] && cp "$SRC/$file" "$DEST/"; done
[ -d "$SRC/docs" ] && cp -R "$SRC/docs" "$DEST/"

list=$(mktemp)
(cd "$SRC" && npm ls --omit=dev --all --parseable 2>/dev/null) | while read -r dir; do
	case $dir in "$SRC"/node_modules/*) echo "${dir#"$SRC"/}" ;; esac
done | sort -u > "$list"
if [ ! -s "$list" ]; then
	rm -f "$list"
	echo "npm ls found no production dependencies in $SRC/node_modules: run npm ci first" >&2
	exit 1
fi
(cd "$SRC" && tar -cf - -T "$list") | (cd "$DEST" && tar -xf -)
rm -f "$list"

cat > "$DEST/bin/culex" <<WRAPPER
#!/bin/sh
# The culex command: Culex's CLI (broker, pub, sub, rr, passwd) on Node.js.
exec $NODE $PREFIX/dist/cli/culex.js "\$@"
WRAPPER
chmod 755 "$DEST/bin/culex"
chmod -R go-w "$DEST"
