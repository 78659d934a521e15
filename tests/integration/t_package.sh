#!/usr/bin/env bash
# The install step and the Debian package, on this machine:
#   1. `cmake --install` (what `make install` runs) with DESTDIR, for prefix
#      /usr and /opt/sluice: the files in their places, the unit naming the
#      prefix's binary and config, an existing config kept;
#   2. scripts/make-deb.sh (`make deb`): the package's fields, its Depends
#      holding the package of every library the binary links (derived by
#      dpkg-shlibdeps), its files and conffile; lintian's findings, when
#      lintian is there (setup-deps.sh --pkg), reported, and no error among them;
#   3. as root only (else skipped, said so): `dpkg -i`: the sluice system user,
#      /var/lib/sluice owned by it, the config readable by its group only;
#      `sluice --version` from /usr/bin; `sluice check` and `sluice run` of the
#      packaged config as the sluice user, loading a drop; `systemd-analyze
#      verify` of the unit; the unit's ExecStart run as its User= in its
#      WorkingDirectory= with a notify socket: READY=1, a drop loaded, its
#      ExecReload (SIGHUP): RELOADING=1/READY=1, SIGTERM: STOPPING=1, exit 0;
#      man and bash completion find their files; `dpkg -r` keeps the
#      config, `dpkg -P` removes it and keeps /var/lib/sluice; the machine
#      is left as it was.
. "$(dirname "$0")/lib.sh"
BUILD=$(cd "$(dirname "$SLUICE_BIN")" && pwd)
VERSION_OUT=$("$SLUICE_BIN" --version)

# ---- 1. cmake --install, DESTDIR ----
for prefix in /usr /opt/sluice; do
  D="$T_DIR/inst$(echo "$prefix" | tr / _)"
  DESTDIR="$D" cmake --install "$BUILD" --prefix "$prefix" >"$T_DIR/install.log"
  etc=$([ "$prefix" = /usr ] && echo /etc || echo "$prefix/etc")
  unit=$([ "$prefix" = /usr ] && echo /lib/systemd/system || echo "$prefix/lib/systemd/system")
  for f in "$prefix/bin/sluice" "$prefix/share/man/man1/sluice.1" "$prefix/share/man/man5/sluice.yaml.5" \
           "$prefix/share/bash-completion/completions/sluice" "$etc/sluice/sluice.yaml" \
           "$unit/sluice.service" "$prefix/share/doc/sluice/examples/sluice-drop-folders.conf"; do
    [ -f "$D$f" ] && ok "install --prefix $prefix: $f" || not_ok "install --prefix $prefix: $f"
  done
  check "install --prefix $prefix: the unit runs the prefix's binary on the prefix's config" \
    "ExecStart=$prefix/bin/sluice daemon $etc/sluice/sluice.yaml" \
    "$(grep '^ExecStart=' "$D$unit/sluice.service")"
  echo "# mine" >>"$D$etc/sluice/sluice.yaml"
  DESTDIR="$D" cmake --install "$BUILD" --prefix "$prefix" >"$T_DIR/install.log"
  check "install again: the config edited is kept" "# mine" "$(tail -1 "$D$etc/sluice/sluice.yaml")"
done
if git -C "$SL_SRCDIR" rev-parse --git-dir >/dev/null 2>&1; then
  check "sluice --version is git describe --tags --always --dirty of the source (rebuild after a commit)" \
    "sluice $(git -C "$SL_SRCDIR" describe --tags --always --dirty)" "$VERSION_OUT"
fi
# a tree without git: the VERSION file, as git archive writes it, else "unknown"
mkdir -p "$T_DIR/tarball"
version_of_tree() {
  cmake -DSRC="$T_DIR/tarball" -DOUT="$T_DIR/tarball/version.c" -P "$SL_SRCDIR/cmake/version.cmake"
  sed -n 's/^const char sl_version\[\] = "\(.*\)";$/\1/p' "$T_DIR/tarball/version.c"
}
check "no git, no VERSION: unknown" unknown "$(version_of_tree)"
echo "1.4.2" >"$T_DIR/tarball/VERSION"
check "no git: the VERSION file's first line" "1.4.2" "$(version_of_tree)"
cp "$SL_SRCDIR/VERSION" "$T_DIR/tarball/VERSION"
check "no git, VERSION as committed (its placeholder): unknown" unknown "$(version_of_tree)"
if git -C "$SL_SRCDIR" rev-parse --git-dir >/dev/null 2>&1; then
  git -C "$SL_SRCDIR" archive HEAD VERSION | tar -x -C "$T_DIR/tarball"
  tag=$(git -C "$SL_SRCDIR" describe --tags HEAD 2>/dev/null || true)
  check "git archive writes the tag into VERSION (empty with no tag)" "$tag" "$(head -1 "$T_DIR/tarball/VERSION")"
  check "... which a build of the archive shows" "${tag:-unknown}" "$(version_of_tree)"
fi
check "the installed binary is the one built" "$VERSION_OUT" "$("$T_DIR/inst_opt_sluice/opt/sluice/bin/sluice" --version)"
check_contains "make install: DESTDIR and PREFIX reach cmake --install" \
  "DESTDIR=/tmp/x cmake --install build --prefix /opt/y" \
  "$(make -n -C "$SL_SRCDIR" install PREFIX=/opt/y DESTDIR=/tmp/x 2>/dev/null)"

# ---- 2. the package ----
DEB=$(bash "$SL_SRCDIR/scripts/make-deb.sh" "$BUILD" "$T_DIR/deb" 2>"$T_DIR/deb.err" | tail -1)
[ -f "$DEB" ] && ok "make-deb.sh builds $(basename "$DEB")" || { not_ok "make-deb.sh builds"; cat "$T_DIR/deb.err"; finish; exit 1; }
field() { dpkg-deb -f "$DEB" "$1"; }
check "Package" sluice "$(field Package)"
check "Architecture" "$(dpkg --print-architecture)" "$(field Architecture)"
describe=${VERSION_OUT#sluice }
if [[ $describe =~ ^([0-9a-f]{7,40})(-dirty)?$ ]]; then
  want="0~git.${BASH_REMATCH[1]}${BASH_REMATCH[2]:++dirty}"
  check "Version: the binary's git describe ($describe), in Debian's form" "$want" "$(field Version)"
else
  check_contains "Version: from the binary's git describe ($describe)" "$(echo "$describe" | sed -E 's/^v//; s/-dirty$//; s/-([0-9]+)-g/+\1.g/')" "$(field Version)"
fi
depends=$(field Depends)
echo "# Depends: $depends"
check_contains "Depends: adduser (the postinst makes the user)" "adduser" "$depends"
# every library the binary links, by the package that holds it (dpkg knows
# a file by the path it was unpacked at: /lib or /usr/lib, a link or not)
pkg_of() {
  local real cand pkg
  real=$(readlink -f "$1")
  for cand in "$1" "$real" "${1#/usr}" "/usr$1" "${real#/usr}" "/usr$real"; do
    pkg=$(dpkg -S "$cand" 2>/dev/null | awk -F: 'NR == 1 {print $1}' || true)
    [ -n "$pkg" ] && { echo "$pkg"; return 0; }
  done
  return 0
}
while read -r lib; do
  # (awk reads all: one that exits early would SIGPIPE ldconfig, a failure under pipefail)
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ && !f {print $NF; f = 1}')
  [ -n "$path" ] || path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !f {print $NF; f = 1}')
  pkg=$(pkg_of "$path")
  if [ -z "$pkg" ]; then not_ok "the package of $lib is known"; continue; fi
  grep -qx -- "$pkg" <<<"$(tr ',|' '\n\n' <<<"$depends" | sed 's/(.*//; s/ //g')" &&
    ok "Depends names $pkg ($lib, linked by the binary)" || not_ok "Depends names $pkg ($lib, linked by the binary)"
done < <(objdump -p "$SLUICE_BIN" | awk '$1 == "NEEDED" {print $2}' | grep -v '^ld-linux')
contents=$(dpkg-deb -c "$DEB" | awk '{print $NF}' | sed 's|^\./|/|')
for f in /usr/bin/sluice /usr/share/man/man1/sluice.1.gz /usr/share/man/man5/sluice.yaml.5.gz \
         /usr/share/bash-completion/completions/sluice /lib/systemd/system/sluice.service \
         /etc/sluice/sluice.yaml /usr/share/doc/sluice/copyright /usr/share/doc/sluice/changelog.gz \
         /usr/share/doc/sluice/examples/sluice-drop-folders.conf; do
  grep -qxF "$f" <<<"$contents" && ok "the package holds $f" || not_ok "the package holds $f"
done
check "the config is a conffile" "/etc/sluice/sluice.yaml" "$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles)"
if command -v lintian >/dev/null; then
  lintian --tag-display-limit 0 -I "$DEB" >"$T_DIR/lintian.txt" 2>&1 || true
  grep -v "root privileges" "$T_DIR/lintian.txt" | sed 's/^/# lintian: /' || true
  check "lintian: no error" 0 "$(grep -c '^E:' "$T_DIR/lintian.txt" || true)"
else
  echo "# lintian is not installed (scripts/setup-deps.sh --pkg): not run"
fi

# ---- 3. installed on this machine (root) ----
if [ "$(id -u)" -ne 0 ]; then
  echo "# not root: dpkg -i, the sluice user and the service are not tried here"
  finish
  exit $?
fi
# one package test at a time on a machine (plain and ASan runs, other checkouts)
exec 9>/var/lock/sluice-t_package.lock
flock -w 600 9 || { not_ok "the package test lock"; finish; exit 1; }
had_user=$(getent passwd sluice >/dev/null && echo 1 || echo 0)
had_state=$([ -e /var/lib/sluice ] && echo 1 || echo 0)
DPID=""; LPID=""
# dpkg ARGS: dpkg, waiting while another dpkg or apt holds its lock
dpkg_wait() {
  local i
  for i in $(seq 120); do
    if dpkg "$@" >"$T_DIR/dpkg.out" 2>&1; then return 0; fi
    grep -qi "lock" "$T_DIR/dpkg.out" || { cat "$T_DIR/dpkg.out"; return 1; }
    sleep 1
  done
  cat "$T_DIR/dpkg.out"; return 1
}
restore_machine() {
  [ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
  [ -n "$LPID" ] && kill "$LPID" 2>/dev/null
  if dpkg-query -W -f='${Status}' sluice 2>/dev/null | grep -q "ok installed\|config-files"; then
    dpkg_wait -P sluice || true
  fi
  if [ "$had_user" = 0 ] && getent passwd sluice >/dev/null; then userdel sluice 2>/dev/null || true; fi
  if [ "$had_user" = 0 ] && getent group sluice >/dev/null; then groupdel sluice 2>/dev/null || true; fi
  [ "$had_state" = 0 ] && rm -rf /var/lib/sluice
  true
}
trap 'restore_machine; cleanup' EXIT
if dpkg-query -W -f='${Status}' sluice 2>/dev/null | grep -q "ok installed\|config-files"; then
  echo "# a sluice package is installed (left by an earlier run): purged first"
  dpkg_wait -P sluice
fi

dpkg_wait -i "$DEB" && ok "dpkg -i" || not_ok "dpkg -i"
check "dpkg: installed" "install ok installed" "$(dpkg-query -W -f='${Status}' sluice)"
IFS=: read -r _ _ uid _ _ home shell <<<"$(getent passwd sluice)"
check "the sluice user is a system user" yes "$([ -n "$uid" ] && [ "$uid" -lt 1000 ] && echo yes || echo "no: uid $uid")"
check "its home is /var/lib/sluice, it has no login shell" "/var/lib/sluice /usr/sbin/nologin" "$home $shell"
check "/var/lib/sluice: the sluice user's, 750" "sluice:sluice 750" "$(stat -c '%U:%G %a' /var/lib/sluice)"
check "the config: readable by the sluice group only" "root:sluice 640" "$(stat -c '%U:%G %a' /etc/sluice/sluice.yaml)"
check "sluice --version from the installed path" "$VERSION_OUT" "$(/usr/bin/sluice --version)"
check "the package starts nothing: no process of the sluice user" "" "$(pgrep -u sluice -l || true)"
check "the package enables nothing" no \
  "$([ -e /etc/systemd/system/multi-user.target.wants/sluice.service ] && echo yes || echo no)"
check "man finds sluice(1) and sluice.yaml(5)" \
  "/usr/share/man/man1/sluice.1.gz /usr/share/man/man5/sluice.yaml.5.gz" \
  "$(man -w 1 sluice | head -1) $(man -w 5 sluice.yaml | head -1)"
check_contains "man sluice.yaml renders the keys" "max_ratio" "$(MANWIDTH=100 man sluice.yaml 2>/dev/null)"
check "bash completion is registered by its file" "complete -F _sluice sluice" \
  "$(bash -c '. /usr/share/bash-completion/completions/sluice && complete -p sluice')"

set +e
out=$(runuser -u sluice -- /usr/bin/sluice check /etc/sluice/sluice.yaml 2>&1); rc=$?
set -e
check "the packaged config passes sluice check (as the sluice user)" 0 "$rc"
drop_as_sluice() {   # drop_as_sluice NAME FIRST: 3 orders into the packaged drop folder
  runuser -u sluice -- mkdir -p /var/lib/sluice/drops/orders
  { echo "id,amount,updated_at"
    for i in 0 1 2; do echo "$(($2 + i)),$((10 + i)).50,2026-01-0$((i + 1))T10:00:00Z"; done
  } | runuser -u sluice -- sh -c "cat > /var/lib/sluice/drops/orders/.$1.tmp &&
        touch -d '-10 seconds' /var/lib/sluice/drops/orders/.$1.tmp &&
        mv /var/lib/sluice/drops/orders/.$1.tmp /var/lib/sluice/drops/orders/$1"
}
drop_as_sluice a.csv 1
set +e
out=$(cd /var/lib/sluice && runuser -u sluice -- /usr/bin/sluice run /etc/sluice/sluice.yaml 2>&1); rc=$?
set -e
check "sluice run of the packaged config as the sluice user: exit 0" 0 "$rc"
check "the drop is in the warehouse in /var/lib/sluice" 3 \
  "$(sqlite3 /var/lib/sluice/warehouse.db 'select count(*) from orders')"
check "the warehouse is the sluice user's" sluice "$(stat -c %U /var/lib/sluice/warehouse.db)"

UNIT=/lib/systemd/system/sluice.service
set +e
verify=$(systemd-analyze verify "$UNIT" 2>&1); vrc=$?
set -e
check "systemd-analyze verify $UNIT: exit 0, nothing said" "0 " "$vrc $verify"
unit_key() { sed -n "s/^$1=//p" "$UNIT"; }
check "the unit: Type=notify, User=sluice, ExecReload sends SIGHUP" \
  "notify sluice /bin/kill -HUP \$MAINPID" "$(unit_key Type) $(unit_key User) $(unit_key ExecReload)"
for k in "ProtectSystem=strict" "NoNewPrivileges=yes" "ProtectHome=yes" "PrivateTmp=yes" \
         "PrivateDevices=yes" "CapabilityBoundingSet=" "ReadWritePaths=/var/lib/sluice" \
         "StateDirectory=sluice" "WorkingDirectory=/var/lib/sluice" "WatchdogSec=30s" \
         "Restart=on-failure" "TimeoutStopSec=15min" "EnvironmentFile=-/etc/default/sluice"; do
  grep -qxF "$k" "$UNIT" && ok "the unit sets $k" || not_ok "the unit sets $k"
done

# the unit's ExecStart as its User= in its WorkingDirectory=, with a notify
# socket as systemd gives one; the admin port moved to a free one in the
# config (an operator's edit of the conffile)
PORT=$(free_port)
sed -i "s/listen: \"127.0.0.1:8765\"/listen: \"127.0.0.1:$PORT\"/" /etc/sluice/sluice.yaml
chmod 711 "$T_DIR"
mkdir -m 777 "$T_DIR/notify"
python3 "$SL_SRCDIR/tests/integration/notify_listen.py" "$T_DIR/notify/sock" "$T_DIR/notify.jsonl" \
  --probe "http://127.0.0.1:$PORT/healthz" --seconds 300 2>"$T_DIR/notify.log" &
LPID=$!
for _ in $(seq 50); do [ -S "$T_DIR/notify/sock" ] && break; sleep 0.1; done
read -r -a EXEC <<<"$(unit_key ExecStart)"
cd "$(unit_key WorkingDirectory)"
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/var/lib/sluice LANG=C.UTF-8 \
  NOTIFY_SOCKET="$T_DIR/notify/sock" WATCHDOG_USEC=2000000 SLUICE_POLL_MS=200 \
  ${ASAN_OPTIONS:+ASAN_OPTIONS=$ASAN_OPTIONS} ${UBSAN_OPTIONS:+UBSAN_OPTIONS=$UBSAN_OPTIONS} \
  setpriv --reuid=sluice --regid=sluice --init-groups -- "${EXEC[@]}" >"$T_DIR/daemon.log" 2>&1 &
DPID=$!
cd "$T_DIR"
states() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l); m=r["msg"].split("\n")[0]
    if m!="WATCHDOG=1": print(m, r.get("probe",""))' "$T_DIR/notify.jsonl" 2>/dev/null; }
for _ in $(seq 100); do states | grep -q READY && break; sleep 0.1; done
check "the service: READY=1, the admin server answering" "READY=1 200" "$(states | head -1)"
check "the service runs as the sluice user" sluice "$(ps -o user= -p "$DPID" | tr -d ' ')"
drop_as_sluice b.csv 101
for _ in $(seq 100); do
  [ "$(sqlite3 /var/lib/sluice/warehouse.db 'select count(*) from orders' 2>/dev/null)" = 6 ] && break
  sleep 0.1
done
check "the service loads a drop" 6 "$(sqlite3 /var/lib/sluice/warehouse.db 'select count(*) from orders')"
reload=$(unit_key ExecReload)
MAINPID=$DPID eval "$reload"
for _ in $(seq 100); do [ "$(states | wc -l)" -ge 3 ] && break; sleep 0.1; done
check "ExecReload: RELOADING=1, then READY=1" "RELOADING=1 READY=1" "$(states | sed -n '2p;3p' | awk '{print $1}' | xargs)"
check_contains "the reload is logged" "reloaded /etc/sluice/sluice.yaml" "$(cat "$T_DIR/daemon.log")"
for _ in $(seq 30); do grep -q '"WATCHDOG=1"' "$T_DIR/notify.jsonl" && break; sleep 0.1; done
check "WATCHDOG=1 is sent (WATCHDOG_USEC set)" yes \
  "$(grep -q '"WATCHDOG=1"' "$T_DIR/notify.jsonl" && echo yes || echo no)"
kill -TERM "$DPID"
set +e; wait "$DPID"; drc=$?; set -e; DPID=""
check "SIGTERM: exit 0" 0 "$drc"
check "STOPPING=1 last" STOPPING=1 "$(states | tail -1 | awk '{print $1}')"

dpkg_wait -r sluice && ok "dpkg -r" || not_ok "dpkg -r"
check "removed: the binary is gone" no "$([ -e /usr/bin/sluice ] && echo yes || echo no)"
check "removed: the config edited stays (a conffile)" yes "$(grep -q "$PORT" /etc/sluice/sluice.yaml && echo yes || echo no)"
dpkg_wait -P sluice && ok "dpkg -P" || not_ok "dpkg -P"
check "purged: /etc/sluice is gone" no "$([ -e /etc/sluice ] && echo yes || echo no)"
check "purged: no stat override is left" "" "$(dpkg-statoverride --list /etc/sluice/sluice.yaml || true)"
check "purged: the sluice user is kept" yes "$(getent passwd sluice >/dev/null && echo yes || echo no)"
check "purged: /var/lib/sluice (the warehouse) is kept" yes "$([ -f /var/lib/sluice/warehouse.db ] && echo yes || echo no)"
finish
