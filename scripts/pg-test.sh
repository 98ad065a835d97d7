#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite (CI runs it from .ci/run).
#
#   scripts/pg-test.sh install      install Debian's postgresql when initdb/pg_ctl are missing
#   scripts/pg-test.sh start DIR    initdb into DIR, start it on a Unix socket in DIR, create the
#                                   database thinkgate_test; prints its URL (for THINKGATE_TEST_PG_URL)
#   scripts/pg-test.sh stop DIR     stop that server and remove DIR
#
# As root the server runs as the `postgres` user (PostgreSQL refuses to run as root). It
# listens on no TCP port. tests/pg.py does the same for local runs without the variable.
set -euo pipefail

bindir() {
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return
    fi
    local best=""
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && best="$d"
    done
    [ -n "$best" ] && echo "$best"
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

case "${1:-}" in
install)
    if [ -z "$(bindir)" ]; then
        echo "installing postgresql ..." >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
    [ -n "$(bindir)" ] || { echo "postgresql is installed but initdb/pg_ctl were not found" >&2; exit 1; }
    ;;
start)
    dir="${2:?usage: pg-test.sh start DIR}"
    bin="$(bindir)"
    [ -n "$bin" ] || { echo "no PostgreSQL binaries; run: scripts/pg-test.sh install" >&2; exit 1; }
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
    cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$dir'
port = 5432
fsync = off
full_page_writes = off
max_connections = 200
EOF
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null || {
        cat "$dir/server.log" >&2
        exit 1
    }
    as_owner "$bin/psql" -q -h "$dir" -U postgres -d postgres -c "CREATE DATABASE thinkgate_test" >/dev/null
    echo "postgresql://postgres@/thinkgate_test?host=$dir"
    ;;
stop)
    dir="${2:?usage: pg-test.sh stop DIR}"
    bin="$(bindir)"
    if [ -n "$bin" ] && [ -d "$dir/data" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 install | start DIR | stop DIR" >&2
    exit 2
    ;;
esac
