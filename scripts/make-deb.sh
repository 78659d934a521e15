#!/usr/bin/env bash
# make-deb.sh BUILD [OUT]: a Debian package of the sluice built in BUILD
# (`make deb`), written to OUT (default BUILD), its path printed last.
#
# The files are what `cmake --install BUILD --prefix /usr` puts in place
# (binary stripped, man pages gzipped as Debian has them), the unit in
# /lib/systemd/system, the example config /etc/sluice/sluice.yaml as a
# conffile; the control file comes from packaging/debian/control through
# dpkg-gencontrol, its Depends from the binary's libraries (dpkg-shlibdeps);
# the maintainer scripts (packaging/debian/) make the sluice user and
# /var/lib/sluice. The version is the binary's own (`sluice --version`, from
# git describe) in Debian's form: v1.2.3 -> 1.2.3, v1.2.3-4-gabc ->
# 1.2.3+4.gabc, a bare commit abc1234 -> 0~git.abc1234, -dirty -> +dirty.
set -euo pipefail

BUILD=$(cd "${1:?usage: make-deb.sh BUILD [OUT]}" && pwd)
OUT=$(mkdir -p "${2:-$BUILD}" && cd "${2:-$BUILD}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
for tool in dpkg-deb dpkg-shlibdeps dpkg-gencontrol; do
  command -v "$tool" >/dev/null || { echo "make-deb.sh: $tool is missing (apt-get install dpkg-dev)" >&2; exit 2; }
done
[ -x "$BUILD/sluice" ] || { echo "make-deb.sh: no $BUILD/sluice: build it first" >&2; exit 2; }

# debian_version DESCRIBE
debian_version() {
  local v=$1 dirty=""
  if [[ $v == *-dirty ]]; then v=${v%-dirty}; dirty="+dirty"; fi
  if [[ $v =~ ^[0-9a-f]{7,40}$ ]]; then
    v="0~git.$v"
  elif [[ $v =~ ^v?([0-9][0-9A-Za-z.]*)-([0-9]+)-g([0-9a-f]+)$ ]]; then
    v="${BASH_REMATCH[1]}+${BASH_REMATCH[2]}.g${BASH_REMATCH[3]}"
  elif [[ $v =~ ^v?([0-9][0-9A-Za-z.+~]*)$ ]]; then
    v=${BASH_REMATCH[1]}
  else
    v="0~unknown"
  fi
  echo "$v$dirty"
}
DESCRIBE=$("$BUILD/sluice" --version | sed 's/^sluice //')
VERSION=$(debian_version "$DESCRIBE")
ARCH=$(dpkg --print-architecture)

WORK="$BUILD/deb"
STAGE="$WORK/sluice"
rm -rf "$WORK"
mkdir -p "$STAGE/DEBIAN" "$WORK/src/debian"
DESTDIR="$STAGE" cmake --install "$BUILD" --prefix /usr --strip >"$WORK/install.log"

gzip -9n "$STAGE/usr/share/man/man1/sluice.1" "$STAGE/usr/share/man/man5/sluice.yaml.5"
DOC="$STAGE/usr/share/doc/sluice"
mkdir -p "$DOC"
sed "s/@YEAR@/$(date +%Y)/" "$SRC/packaging/debian/copyright" >"$DOC/copyright"
{
  echo "sluice ($VERSION) unstable; urgency=medium"
  echo
  echo "  * Built from $DESCRIBE."
  echo
  echo " -- sluice developers <sluice@sluice.example.org>  $(date -R)"
} >"$WORK/src/debian/changelog"
gzip -9n -c "$WORK/src/debian/changelog" >"$DOC/changelog.gz"   # a native package's

for f in postinst prerm postrm conffiles; do
  install -m "$([ "$f" = conffiles ] && echo 0644 || echo 0755)" \
    "$SRC/packaging/debian/$f" "$STAGE/DEBIAN/$f"
done
cp "$SRC/packaging/debian/control" "$WORK/src/debian/control"
(
  cd "$WORK/src"
  dpkg-shlibdeps -Tdebian/substvars "$STAGE/usr/bin/sluice"
  dpkg-gencontrol -psluice -v"$VERSION" -P"$STAGE" -Tdebian/substvars \
    -DInstalled-Size="$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)"
)
(cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort |
  xargs md5sum >DEBIAN/md5sums)
chmod 0644 "$STAGE/DEBIAN/md5sums" "$STAGE/DEBIAN/control"
DEB="$OUT/sluice_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" >/dev/null
echo "$DEB"
