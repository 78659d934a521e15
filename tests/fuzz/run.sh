#!/usr/bin/env bash
# Runs every fuzz target for FUZZ_SECONDS each, seeded from the conformance
# suites. A crash, leak or timeout fails the run and leaves the input in
# build-fuzz/findings/.
set -euo pipefail
build=${1:-build-fuzz}
secs=${FUZZ_SECONDS:-15}
here=$(cd "$(dirname "$0")" && pwd)
td="$here/../data"
mkdir -p "$build/findings"
status=0

# Hex fixtures (one input a line, '#' comments) as a directory of seed files.
hex_seeds() {
  local out=$2
  rm -rf "$out" && mkdir -p "$out"
  python3 - "$1" "$out" <<'PY'
import pathlib, sys
src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for f in sorted(src.glob("*.hex")):
    lines = [l.strip() for l in f.read_text().splitlines()]
    for i, l in enumerate(x for x in lines if x and not x.startswith("#")):
        (out / f"{f.stem}-{i:02d}").write_bytes(bytes.fromhex(l))
PY
}

for f in "$build"/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  corpus="$build/corpus/$name"
  mkdir -p "$corpus"
  case "$name" in
    fuzz_csv) seeds="$td/csv-spectrum/csvs" ;;
    fuzz_json|fuzz_jsonl|fuzz_events) seeds="$td/json-test-suite" ;;
    fuzz_pgoutput) seeds="$build/seeds/$name"; hex_seeds "$td/pgoutput" "$seeds" ;;
    fuzz_syslog|fuzz_clf|fuzz_log4j|fuzz_regex) seeds="$td/logs" ;;
    *) seeds="" ;;
  esac
  echo "fuzz: $name for ${secs}s"
  if ! "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$build/findings/$name-" "$corpus" $seeds >"$build/findings/$name.log" 2>&1; then
    echo "fuzz: $name FAILED; see $build/findings/$name.log"
    tail -40 "$build/findings/$name.log"
    status=1
  else
    grep -E '^(#[0-9]+ *DONE|Done [0-9]+ runs)' "$build/findings/$name.log" | tail -1 || true
  fi
done
exit $status
