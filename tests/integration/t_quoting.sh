#!/usr/bin/env bash
# Column and table names that need quoting (spaces, quotes, SQL keywords, an
# injection attempt) load as plain names: invariant 5.
. "$(dirname "$0")/lib.sh"
new_db
for dest in pg lite; do
  W="$T_DIR/$dest"; mkdir -p "$W"
  if [ $dest = pg ]; then url="$T_PG_URL"; else url="sqlite://wh.db"; fi
  cat >"$W/s.yaml" <<YAML
connections: { wh: { url: "$url" } }
pipelines:
  - name: p
    source: { kind: files, path: in, format: csv, settle: 0s }
    destination: wh
    tables:
      - { name: "${dest} Odd \"Table\"", kind: versioned, primary_key: [select], version_key: "order" }
YAML
  printf '%s\n' 'select,order,"first name","x""; drop table y; --",from,"tab	col"' \
    '1,1,Ada,"a'"'"'b",where,"back\slash"' '2,1,"Grace ""Amazing"" Hopper",x;y,group,t' | drop "$W/in" q.csv
  if [ $dest = pg ]; then pg "create table y (i int)"; else lite "$W/wh.db" "create table y (i int)"; fi
  sluice run "$W/s.yaml"
  check "$dest: hostile names load (rc)" 0 "$RC"
  if [ $dest = pg ]; then
    got=$(pg "select \"select\", \"order\", \"first name\", \"x\"\"; drop table y; --\", \"from\", \"tab	col\" from \"${dest} Odd \"\"Table\"\"\" order by 1")
    ystill=$(pg "select count(*) from pg_tables where tablename = 'y'")
  else
    got=$(lite "$W/wh.db" "select \"select\", \"order\", \"first name\", \"x\"\"; drop table y; --\", \"from\", \"tab	col\" from \"${dest} Odd \"\"Table\"\"\" order by 1")
    ystill=$(lite "$W/wh.db" "select count(*) from sqlite_master where name = 'y'")
  fi
  check "$dest: values intact" "1|1|Ada|a'b|where|back\\slash
2|1|Grace \"Amazing\" Hopper|x;y|group|t" "$got"
  check "$dest: table y survives" "1" "$ystill"
done
finish
