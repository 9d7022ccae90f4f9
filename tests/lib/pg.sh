# tests/lib/pg.sh: a throwaway PostgreSQL server for tests (source it).
#
#   . "$CPC_SOURCE_DIR/tests/lib/pg.sh"
#   cpc_pg_start || exit 1
#   trap cpc_pg_stop EXIT
#   ... use "$CPC_PG_URL" ...
#
# cpc_pg_start runs initdb in a new temporary directory and starts the
# server on 127.0.0.1 on a random free port (its Unix socket in the same
# directory), with durability switched off for speed, and creates the
# database "cpc" owned by the superuser "cpc" (trust authentication, so
# keep it on loopback). It sets CPC_PG_URL (postgres://cpc@127.0.0.1:PORT/cpc),
# CPC_PG_PORT, CPC_PG_DIR and CPC_PG_BINDIR. cpc_pg_stop stops the server
# and removes the directory; it is safe to call twice or after a failed
# start. As root, the server runs as the unprivileged user "nobody" (the
# postgres binaries refuse root); set CPC_PG_USER to use another user.
# The server binaries come from CPC_PG_BINDIR or the newest
# /usr/lib/postgresql/*/bin (Debian package "postgresql", which
# scripts/install-deps installs).

cpc_pg_as() { # run a command as the server's user
  if [ "$(id -u)" = 0 ]; then
    runuser -u "${CPC_PG_USER:-nobody}" -- "$@"
  else
    "$@"
  fi
}

cpc_pg_find_bindir() {
  if [ -n "${CPC_PG_BINDIR:-}" ] && [ -x "$CPC_PG_BINDIR/initdb" ]; then
    echo "$CPC_PG_BINDIR"; return 0
  fi
  local d best
  # the glob sorts 10 before 9: pick the highest major version
  best=$(for d in /usr/lib/postgresql/*/bin; do
           [ -x "$d/initdb" ] && echo "$d"; done |
         sort -t/ -k5,5n | tail -n 1)
  [ -n "$best" ] || return 1
  echo "$best"
}

# A TCP port nothing listens on (the server may still lose a race for it;
# cpc_pg_start then tries another).
cpc_pg_free_port() {
  local port i
  for i in $(seq 1 50); do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"; return 0
    fi
  done
  return 1
}

cpc_pg_start() {
  CPC_PG_BINDIR=$(cpc_pg_find_bindir) || {
    echo "pg.sh: no PostgreSQL server binaries (initdb) under /usr/lib/postgresql/*/bin;" \
         "install the Debian package 'postgresql' (scripts/install-deps)" >&2
    return 1
  }
  local user=${CPC_PG_USER:-nobody}
  if [ "$(id -u)" = 0 ] && ! id "$user" >/dev/null 2>&1; then
    echo "pg.sh: user '$user' does not exist; set CPC_PG_USER to an unprivileged user" >&2
    return 1
  fi
  # The directory must be reachable by the server's user: fall back to /tmp
  # when TMPDIR is private to root.
  local base=${TMPDIR:-/tmp}
  CPC_PG_DIR=$(mktemp -d "$base/cpc-pg.XXXXXX") || return 1
  if [ "$(id -u)" = 0 ]; then
    chown "$user" "$CPC_PG_DIR"
    if ! cpc_pg_as test -w "$CPC_PG_DIR"; then
      rm -rf "$CPC_PG_DIR"
      CPC_PG_DIR=$(mktemp -d /tmp/cpc-pg.XXXXXX) || return 1
      chown "$user" "$CPC_PG_DIR"
    fi
  fi
  chmod 700 "$CPC_PG_DIR"
  if ! cpc_pg_as "$CPC_PG_BINDIR/initdb" -D "$CPC_PG_DIR/data" -U cpc \
        --auth=trust -E UTF8 --locale=C --no-sync >"$CPC_PG_DIR/initdb.log" 2>&1; then
    echo "pg.sh: initdb failed:" >&2; cat "$CPC_PG_DIR/initdb.log" >&2
    return 1
  fi
  local attempt
  for attempt in 1 2 3 4 5; do
    CPC_PG_PORT=$(cpc_pg_free_port) || { echo "pg.sh: no free port" >&2; return 1; }
    if cpc_pg_as "$CPC_PG_BINDIR/pg_ctl" -D "$CPC_PG_DIR/data" -l "$CPC_PG_DIR/server.log" \
         -w -t 60 -o "-c listen_addresses=127.0.0.1 -p $CPC_PG_PORT -k $CPC_PG_DIR \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
         -c max_connections=50 -c shared_buffers=32MB" start >/dev/null 2>&1; then
      break
    fi
    CPC_PG_PORT=
  done
  if [ -z "$CPC_PG_PORT" ]; then
    echo "pg.sh: the server did not start:" >&2; tail -n 20 "$CPC_PG_DIR/server.log" >&2
    return 1
  fi
  if ! cpc_pg_as "$CPC_PG_BINDIR/createdb" -h 127.0.0.1 -p "$CPC_PG_PORT" -U cpc cpc \
        >"$CPC_PG_DIR/createdb.log" 2>&1; then
    echo "pg.sh: createdb failed:" >&2; cat "$CPC_PG_DIR/createdb.log" >&2
    return 1
  fi
  CPC_PG_URL="postgres://cpc@127.0.0.1:$CPC_PG_PORT/cpc"
  export CPC_PG_URL CPC_PG_PORT CPC_PG_DIR CPC_PG_BINDIR
}

cpc_pg_stop() {
  if [ -n "${CPC_PG_DIR:-}" ] && [ -d "$CPC_PG_DIR" ]; then
    if [ -f "$CPC_PG_DIR/data/postmaster.pid" ]; then
      cpc_pg_as "$CPC_PG_BINDIR/pg_ctl" -D "$CPC_PG_DIR/data" -m immediate -w \
        stop >/dev/null 2>&1
    fi
    rm -rf "$CPC_PG_DIR"
  fi
  CPC_PG_DIR=
}
