#!/usr/bin/env bash
# Installs the Debian packages sluice needs to build, test and benchmark.
# Runs `apt-get update` once, and only when something is missing, so a second
# run on a prepared machine costs a few dpkg look-ups.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libpq-dev libsqlite3-dev libyaml-dev libjansson-dev libcurl4-openssl-dev
  libmicrohttpd-dev libnats-dev libcmocka-dev zlib1g-dev libzstd-dev libxxhash-dev
  postgresql-15 postgresql-client-15 sqlite3 zstd gzip
  nats-server
  python3 procps util-linux tzdata curl openssl
  chromium chromium-driver
)
if [ "${1:-}" = "--bench" ]; then
  PKGS+=(pgloader pgcopydb time wrk)
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
