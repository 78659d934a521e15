#!/usr/bin/env bash
# Installs the Debian packages sluice needs:
#   setup-deps.sh           to build and run it (`make run`): compiler, CMake,
#                           the libraries it links, the tz database
#   setup-deps.sh --test    and what the tests need (`make test`): cmocka, PostgreSQL,
#                           NATS, clang for the fuzzers and sanitizers, Chromium
#                           for the dashboard test, python3 and curl, and the
#                           programs whose logs the log tests load (nginx,
#                           rsyslog, logger)
#   setup-deps.sh --bench   and the peers the benchmarks measure against
#   setup-deps.sh --pkg     and lintian (the package test reports its findings when it is there)
# Runs `apt-get update` once, and only when something is missing, so a second
# run on a prepared machine costs a few dpkg look-ups.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config
  libpq-dev libsqlite3-dev libyaml-dev libjansson-dev libcurl4-openssl-dev
  libmicrohttpd-dev libnats-dev zlib1g-dev libzstd-dev libxxhash-dev libpcre2-dev
  libssl-dev libsystemd-dev
  tzdata
)
TEST_PKGS=(
  libcmocka-dev clang libclang-rt-14-dev
  postgresql-15 postgresql-client-15 sqlite3 zstd gzip
  nats-server
  python3 procps util-linux curl openssl
  nginx-light rsyslog bsdutils
  chromium chromium-driver
  dpkg-dev systemd man-db groff-base bash-completion adduser
  prometheus python3-yaml
)
case "${1:-}" in
  --test) PKGS+=("${TEST_PKGS[@]}") ;;
  --bench) PKGS+=("${TEST_PKGS[@]}" pgloader pgcopydb time wrk) ;;
  --pkg) PKGS+=("${TEST_PKGS[@]}" lintian) ;;
  "") ;;
  *) echo "usage: setup-deps.sh [--test|--bench|--pkg]" >&2; exit 2 ;;
esac

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
