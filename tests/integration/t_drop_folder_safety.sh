#!/usr/bin/env bash
# Whoever can drop files can plant links and special files too. In PostgreSQL
# and SQLite:
#   symlink_drop_skipped         a link in the drop folder is skipped with a
#                                warning naming it: what it points to never
#                                reaches the warehouse (follow_symlinks: true
#                                loads it, and the target keeps its bytes)
#   special_files_skipped        a FIFO, a socket and a directory are skipped
#                                with a warning, never opened (no hang)
#   own_dir_links_fail_the_run   done/, failed/ or quarantine/ a link to an
#                                outside folder: the run fails naming it,
#                                nothing loads, nothing appears outside;
#                                a done_dir outside it is a config error
#   planted_error_link_untouched failed/x.csv.error a link: its target keeps
#                                its bytes, the .error goes to a fresh name
#   release_never_follows_links  approve/reject of a held file whose file or
#                                folder became a link fails naming it
. "$(dirname "$0")/lib.sh"
new_db

# socket PATH: a unix socket bound at PATH (left behind when python exits)
socket() { python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$1"; }
# run_t ARGS...: sluice with a time limit, so a FIFO that blocks fails the test
run_t() { local bin=$SLUICE_BIN; SLUICE_BIN=timeout sluice 60 "$bin" "$@"; }

for dest in pg lite; do
  if [ $dest = pg ]; then url="$T_PG_URL"; B=_sluice.batches; else url="sqlite://wh.db"; B=_sluice_batches; fi
  # cfg DIR TABLE [EXTRA SOURCE KEYS]
  cfg() {
    mkdir -p "$1"
    cat >"$1/s.yaml" <<YAML
connections: { wh: { url: "$url" } }
pipelines:
  - name: p
    source: { kind: files, path: in, format: csv, settle: 0s ${3:-} }
    destination: wh
    tables:
      - { name: $2, kind: versioned, primary_key: [id], version_key: v, gates: { unique_key: quarantine } }
YAML
  }
  q() { if [ $dest = pg ]; then pg "$1"; else lite "$W/wh.db" "$1"; fi; }
  has_table() {
    if [ $dest = pg ]; then pg "select count(*) from information_schema.tables where table_name = '$1'"
    else lite "$W/wh.db" "select count(*) from sqlite_master where name = '$1'"; fi
  }
  O="$T_DIR/$dest-outside"; mkdir -p "$O/empty"
  printf 'id,v,secret\n1,1,TOPSECRET\n' >"$O/secret.csv"
  cp "$O/secret.csv" "$O/secret.orig"
  printf 'keep me\n' >"$O/victim.txt"

  # ---- symlink_drop_skipped ----
  W="$T_DIR/$dest/links"; T=${dest}_links; cfg "$W" $T
  mkdir -p "$W/in"; ln -s "$O/secret.csv" "$W/in/x.csv"
  printf 'id,v,secret\n7,1,public\n' | drop "$W/in" good.csv
  run_t run "$W/s.yaml"
  check "$dest: a run beside a link succeeds" 0 "$RC"
  check_contains "$dest: the link is named and skipped" "in/x.csv: skipped: a symbolic link" "$ERR"
  check "$dest: only the real drop loaded" "7:public" "$(q "select id || ':' || secret from $T")"
  check "$dest: the link's target never reached the warehouse" 0 "$(q "select count(*) from $T where secret = 'TOPSECRET'")"
  check "$dest: the link is left where it was" yes "$([ -L "$W/in/x.csv" ] && echo yes || echo no)"
  check "$dest: the link's target keeps its bytes" same "$(cmp -s "$O/secret.csv" "$O/secret.orig" && echo same || echo changed)"

  W="$T_DIR/$dest/follow"; T=${dest}_follow; cfg "$W" $T ", follow_symlinks: true"
  mkdir -p "$W/in"; ln -s "$O/secret.csv" "$W/in/x.csv"
  sluice check "$W/s.yaml"
  check "$dest: sluice check accepts follow_symlinks" 0 "$RC"
  check_contains "$dest: sluice check shows follow_symlinks" "follow_symlinks=true" "$OUT"
  run_t run "$W/s.yaml"
  check "$dest: follow_symlinks: true loads what the link points to" "0 1" "$RC $(q "select count(*) from $T where secret = 'TOPSECRET'")"
  check "$dest: the link, not its target, moves to done/" "yes same" \
    "$([ -L "$W/in/done/x.csv" ] && echo yes || echo no) $(cmp -s "$O/secret.csv" "$O/secret.orig" && echo same || echo changed)"

  # ---- special_files_skipped ----
  W="$T_DIR/$dest/special"; T=${dest}_special; cfg "$W" $T
  mkdir -p "$W/in/sub.csv"; mkfifo "$W/in/pipe.csv"; socket "$W/in/sock.csv"
  printf 'id,v,secret\n7,1,public\n' | drop "$W/in" good.csv
  run_t run "$W/s.yaml"
  check "$dest: a run beside a FIFO, a socket and a directory succeeds (no hang)" 0 "$RC"
  check_contains "$dest: the FIFO is named and skipped" "in/pipe.csv: skipped: a FIFO" "$ERR"
  check_contains "$dest: the socket is named and skipped" "in/sock.csv: skipped: a socket" "$ERR"
  check_contains "$dest: the directory is named and skipped" "in/sub.csv: skipped: a directory" "$ERR"
  check "$dest: the real drop loaded" 1 "$(q "select count(*) from $T")"
  check "$dest: the special files are left alone" "yes yes yes" \
    "$([ -p "$W/in/pipe.csv" ] && echo yes) $([ -S "$W/in/sock.csv" ] && echo yes) $([ -d "$W/in/sub.csv" ] && echo yes)"

  # ---- own_dir_links_fail_the_run ----
  for own in done failed quarantine; do
    W="$T_DIR/$dest/own-$own"; T=${dest}_own_$own; cfg "$W" $T
    mkdir -p "$W/in"; ln -s "$O/empty" "$W/in/$own"
    case $own in
      done) printf 'id,v,secret\n7,1,public\n' | drop "$W/in" x.csv ;;
      failed) printf 'id,v,secret\n7,1,"never closed\n' | drop "$W/in" x.csv ;;
      quarantine) printf 'id,v,secret\n7,1,a\n7,1,b\n' | drop "$W/in" x.csv ;;
    esac
    run_t run "$W/s.yaml"
    check "$dest: $own/ a link: the run fails" 1 "$RC"
    check_contains "$dest: $own/ a link: the message names it" "\"in/$own\" is a symbolic link, not a directory" "$ERR"
    check "$dest: $own/ a link: nothing loaded" 0 "$(has_table $T)"
    check "$dest: $own/ a link: nothing appears outside" "" "$(ls -A "$O/empty")"
    check "$dest: $own/ a link: the drop stays for the next run" yes "$([ -f "$W/in/x.csv" ] && echo yes || echo no)"
  done

  W="$T_DIR/$dest/own-file"; T=${dest}_own_file; cfg "$W" $T
  mkdir -p "$W/in"; printf 'not a folder\n' >"$W/in/done"
  printf 'id,v,secret\n8,1,public\n' | drop "$W/in" x.csv
  run_t run "$W/s.yaml"
  check "$dest: done a file: the run fails naming it" "1 0" "$RC $(has_table $T)"
  check_contains "$dest: done a file: the message says so" "\"in/done\" is a file, not a directory" "$ERR"

  W="$T_DIR/$dest/own-outside"; T=${dest}_own_outside; cfg "$W" $T ", done_dir: ../elsewhere"
  sluice check "$W/s.yaml"
  check "$dest: a done_dir outside the drop folder is a config error" 2 "$RC"
  check_contains "$dest: the config error names the key" "done_dir \"../elsewhere\" must name one folder inside the drop folder" "$ERR"

  # ---- planted_error_link_untouched ----
  W="$T_DIR/$dest/errlink"; T=${dest}_errlink; cfg "$W" $T
  mkdir -p "$W/in/failed"; ln -s "$O/victim.txt" "$W/in/failed/x.csv.error"
  printf 'id,v,secret\n7,1,"never closed\n' | drop "$W/in" x.csv
  run_t run "$W/s.yaml"
  check "$dest: bad drop beside a planted .error link fails" 1 "$RC"
  check "$dest: the planted link's target keeps its bytes" "keep me" "$(cat "$O/victim.txt")"
  check "$dest: the planted link is still a link" yes "$([ -L "$W/in/failed/x.csv.error" ] && echo yes || echo no)"
  check "$dest: the drop and its .error take the next free name" "yes yes" \
    "$([ -f "$W/in/failed/x.csv.1" ] && echo yes) $([ -f "$W/in/failed/x.csv.1.error" ] && ! [ -L "$W/in/failed/x.csv.1.error" ] && echo yes)"
  check_contains "$dest: the .error says what went wrong" "unterminated quoted field" "$(cat "$W/in/failed/x.csv.1.error" 2>/dev/null)"

  # ---- release_never_follows_links ----
  W="$T_DIR/$dest/release"; T=${dest}_release; cfg "$W" $T
  printf 'id,v,secret\n7,1,a\n7,1,b\n' | drop "$W/in" x.csv
  run_t run "$W/s.yaml"
  check "$dest: duplicate keys are held" 3 "$RC"
  id=$(q "select id from $B where state = 'quarantined' and table_name = '$T'")
  mv "$W/in/quarantine/x.csv" "$W/held.csv"
  ln -s "$O/secret.csv" "$W/in/quarantine/x.csv"
  run_t approve "$W/s.yaml" "$id"
  check "$dest: approve of a held file become a link fails" 1 "$RC"
  check_contains "$dest: approve names the link" "in/quarantine/x.csv\": it is a symbolic link" "$ERR"
  check "$dest: the link's target never reached the warehouse" 0 "$(has_table $T)"
  rm "$W/in/quarantine/x.csv"; mv "$W/held.csv" "$W/in/quarantine/x.csv"
  mv "$W/in/quarantine" "$W/held"; ln -s "$W/held" "$W/in/quarantine"
  run_t approve "$W/s.yaml" "$id"
  check "$dest: approve through a quarantine/ link fails" 1 "$RC"
  check_contains "$dest: approve names quarantine/" "\"in/quarantine\" is a symbolic link" "$ERR"
  check "$dest: nothing loaded through quarantine/ link" 0 "$(has_table $T)"
  rm "$W/in/quarantine"; mv "$W/held" "$W/in/quarantine"
  mkdir -p "$W/in"; ln -s "$O/empty" "$W/in/failed"
  run_t reject "$W/s.yaml" "$id"
  check "$dest: reject into a failed/ link fails" 1 "$RC"
  check_contains "$dest: reject names failed/" "\"in/failed\" is a symbolic link" "$ERR"
  check "$dest: nothing appears outside on reject" "" "$(ls -A "$O/empty")"
  check "$dest: the held file stays held" yes "$([ -f "$W/in/quarantine/x.csv" ] && echo yes || echo no)"
  check "$dest: the batch stays quarantined" quarantined "$(q "select state from $B where id = $id")"
  rm "$W/in/failed"
  run_t reject "$W/s.yaml" "$id"
  check "$dest: reject with real folders succeeds" 0 "$RC"
  check "$dest: the rejected file is set aside in failed/" yes "$([ -f "$W/in/failed/x.csv" ] && [ -f "$W/in/failed/x.csv.error" ] && echo yes || echo no)"
done
finish
