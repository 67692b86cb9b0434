#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: `eng/postgres.sh start DIR` installs PostgreSQL with the
# system's package manager when it is missing, runs initdb into DIR as the postgres user (the server
# refuses root), listens on 127.0.0.1 only, on a free port, and prints the Npgsql connection string as its
# last line. `eng/postgres.sh restart DIR` stops it at once, as a crash would (`-m immediate`: no
# checkpoint, the WAL replayed at start), and starts it again on the same port with its data (the tests'
# server restart under load). `eng/postgres.sh stop DIR` stops it (safe to call whatever happened). Trust authentication is
# acceptable only because the server listens on loopback and lives for one run.
set -euo pipefail
command=${1:?usage: eng/postgres.sh start|restart|stop DIR}
dir=${2:?usage: eng/postgres.sh start|restart|stop DIR}

bindir() {
  local found
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir; return
  fi
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$found" ] && [ -x "$found/initdb" ] && echo "$found"
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Starts the server in DIR on port $1; prints the connection string.
serve() {
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $1 -k $dir -c fsync=on -c synchronous_commit=on -c max_connections=300" start >&2 || return 1
  echo "$1" > "$dir/port"
  echo "Host=127.0.0.1;Port=$1;Username=postgres;Database=postgres;Pooling=true"
}

case $command in
  start)
    bin=$(bindir || true)
    if [ -z "$bin" ]; then
      echo "PostgreSQL is not installed: installing it with apt-get" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
      # Debian's package starts a default cluster on port 5432; this script runs its own.
      command -v pg_ctlcluster >/dev/null 2>&1 && pg_lsclusters -h 2>/dev/null | while read -r version name _; do
        pg_ctlcluster "$version" "$name" stop >&2 || true
      done
      bin=$(bindir)
    fi
    mkdir -p "$dir"
    [ "$(id -u)" != 0 ] || chown postgres: "$dir"
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-instructions >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    for port in $(shuf -i 20000-40000 -n 20); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi # taken
      if serve "$port"; then exit 0; fi
    done
    cat "$dir/server.log" >&2 || true
    echo "PostgreSQL did not start on any of 20 ports" >&2
    exit 1
    ;;
  restart)
    bin=$(bindir)
    as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 60 stop >&2
    serve "$(cat "$dir/port")" || { cat "$dir/server.log" >&2; exit 1; }
    ;;
  stop)
    bin=$(bindir || true)
    if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
      as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >&2 \
        || as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >&2 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: eng/postgres.sh start|restart|stop DIR" >&2; exit 2 ;;
esac
