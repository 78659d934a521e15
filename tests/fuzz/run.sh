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
for f in "$build"/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  corpus="$build/corpus/$name"
  mkdir -p "$corpus"
  case "$name" in
    fuzz_csv) seeds="$td/csv-spectrum/csvs" ;;
    fuzz_json|fuzz_jsonl|fuzz_events) seeds="$td/json-test-suite" ;;
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
