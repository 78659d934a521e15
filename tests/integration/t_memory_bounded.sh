#!/usr/bin/env bash
# docs/invariants.md #4: memory is bounded by the batch buffer, not by the
# input. The same shape of drop at about 20 MB and at four times that size,
# each loaded by its own `sluice run` into SQLite (a versioned table, so
# the merge runs too): the larger one's peak RSS is within a few MB of the
# smaller one's, and both stay far below the size of the file. Peak RSS is
# the child's ru_maxrss as the kernel counts it. Not under the sanitizers:
# ASan's shadow memory and quarantine grow with every allocation made.
. "$(dirname "$0")/lib.sh"
if [ "${SL_SANITIZED:-OFF}" = ON ]; then
  echo "ok - skipped under the sanitizers (their own memory grows with the work)"
  finish
  exit 0
fi
W="$T_DIR/w"; mkdir -p "$W"

# gen ROWS FILE: id, version, a timestamp, an amount and some text per row
gen() {
  python3 - "$1" "$2" <<'PY'
import sys
rows, out = int(sys.argv[1]), sys.argv[2]
with open(out, "w") as f:
    f.write("id,v,ts,amount,note\n")
    pad = "x" * 120
    for i in range(rows):
        f.write(f"{i},1,2024-03-{1 + i % 28:02d}T{i % 24:02d}:00:00Z,{i % 100000}.{i % 100:02d},{pad}{i}\n")
PY
}

# peak ROWS: peak RSS in KB of one run loading a drop of ROWS rows
peak() {
  local d="$W/r$1"
  mkdir -p "$d/in"
  cat >"$d/s.yaml" <<YAML
connections: { wh: { url: "sqlite://wh.db" } }
pipelines:
  - name: p
    source: { kind: files, path: in, format: csv, settle: 0s }
    destination: wh
    tables: [ { name: t, kind: versioned, primary_key: [id], version_key: v } ]
YAML
  gen "$1" "$d/in/.big.tmp"
  touch -d '-10 seconds' "$d/in/.big.tmp"
  mv "$d/in/.big.tmp" "$d/in/big.csv"
  python3 - "$SLUICE_BIN" "$d/s.yaml" <<'PY'
import resource, subprocess, sys
rc = subprocess.run([sys.argv[1], "--quiet", "run", sys.argv[2]], stdout=subprocess.DEVNULL).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if rc == 0 else f"exit {rc}")
PY
}

small_rows=130000; big_rows=520000
small=$(peak $small_rows)
big=$(peak $big_rows)
size_mb=$(( $(stat -c %s "$W/r$big_rows/in/done/big.csv" 2>/dev/null || echo 0) / 1000000 ))
echo "# peak RSS: ${small} KB for $small_rows rows, ${big} KB for $big_rows rows (${size_mb} MB)"
check "both runs load (exit 0)" "t t" "$([[ $small =~ ^[0-9]+$ ]] && echo t || echo "f ($small)") $([[ $big =~ ^[0-9]+$ ]] && echo t || echo "f ($big)")"
check "every row is in" "$big_rows" "$(lite "$W/r$big_rows/wh.db" "select count(*) from t")"
if [[ $small =~ ^[0-9]+$ && $big =~ ^[0-9]+$ ]]; then
  check "four times the input takes at most 16 MB more at peak" t \
    "$([ $((big - small)) -le 16384 ] && echo t || echo "f (+$(( (big - small) / 1024 )) MB)")"
  check "the peak is far below the file's size (under 64 MB for ${size_mb} MB)" t \
    "$([ "$big" -le 65536 ] && echo t || echo "f ($((big / 1024)) MB)")"
fi
finish
