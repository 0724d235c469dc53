#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests.
#
#   scripts/pg.sh start DIR   create (if needed) and start a cluster in DIR;
#                             prints ONE line on stdout: the connection URL
#   scripts/pg.sh stop DIR    stop the cluster and remove DIR
#   scripts/pg.sh status DIR  exit 0 and print the URL if running, else exit 1
#
# The cluster is tuned for speed, not durability (fsync=off etc.): never put
# data you care about in it. All diagnostics go to stderr so that
# `url=$(scripts/pg.sh start DIR)` captures only the URL.
#
# Environment:
#   PG_BINDIR  directory holding initdb/pg_ctl/postgres
#              (default: /usr/lib/postgresql/15/bin)
set -euo pipefail

PG_BINDIR="${PG_BINDIR:-/usr/lib/postgresql/15/bin}"
# Marker file: `stop` only ever deletes a directory that `start` created a
# cluster in, so a typo like `pg.sh stop /` cannot wipe anything.
MARKER=nishan-test-cluster

log() { printf 'pg.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    cat >&2 <<'EOF'
usage: scripts/pg.sh start DIR    start a throwaway cluster in DIR, print its URL
       scripts/pg.sh stop DIR     stop it and remove DIR
       scripts/pg.sh status DIR   print the URL and exit 0 if running, else exit 1
EOF
    exit 2
}

[[ $# -eq 2 ]] || usage
cmd=$1
# Absolute path: the server runs with a different cwd, and the socket
# directory setting must be absolute.
DIR=$(realpath -m -- "$2")
DATA="$DIR/data"
SOCK="$DIR/run"
LOGFILE="$DIR/server.log"
PORTCONF="$DATA/nishan_port.conf"

# PostgreSQL refuses to run as root, so as root every server-side command runs
# as the `postgres` OS user; as anyone else it runs as that user directly.
if [[ $EUID -eq 0 ]]; then
    getent passwd postgres >/dev/null ||
        die "running as root but there is no 'postgres' OS user (install postgresql-15)"
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi

# Files written by root must belong to the server's user.
own_pg() {
    if [[ $EUID -eq 0 ]]; then chown postgres:postgres "$@"; fi
}

# The postgres user may not be able to read root's cwd (e.g. /root is 0700);
# every path used below is absolute, so work from /.
cd /

url_for_port() { printf 'postgres://postgres@127.0.0.1:%s/postgres\n' "$1"; }

# Prints the configured port, or nothing if none is set yet.
current_port() {
    if [[ -f $PORTCONF ]]; then
        sed -n 's/^port *= *\([0-9][0-9]*\).*/\1/p' "$PORTCONF" | tail -n1
    fi
}

is_running() {
    [[ -f "$DATA/PG_VERSION" ]] && as_pg "$PG_BINDIR/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

port_in_use() {
    # A successful TCP connect means something is listening there.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
    # Ask the kernel for an unused port; fall back to probing from 54329 up.
    if command -v python3 >/dev/null 2>&1; then
        local p
        if p=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()' 2>/dev/null) && [[ $p =~ ^[0-9]+$ ]]; then
            echo "$p"
            return
        fi
    fi
    local port
    for ((port = 54329; port < 54529; port++)); do
        if ! port_in_use "$port"; then
            echo "$port"
            return
        fi
    done
    die "no free TCP port found in 54329-54528"
}

check_traversable() {
    # Every ancestor of DIR must be searchable (x) by the server's user, or
    # initdb/postgres fail with obscure "Permission denied" errors. mktemp -d
    # makes 0700 directories: use DIR=$(mktemp -d) itself, not a child of it.
    local d
    d=$(dirname -- "$DIR")
    while :; do
        if [[ -d $d ]] && ! as_pg test -x "$d"; then
            die "the postgres user cannot enter '$d' (mode $(stat -c %a "$d")); use a DIR under a world-searchable path such as /tmp, or chmod o+x '$d'"
        fi
        [[ $d == / ]] && break
        d=$(dirname -- "$d")
    done
}

init_cluster() {
    check_traversable
    if [[ -e $DIR ]]; then
        [[ -d $DIR ]] || die "'$DIR' exists and is not a directory"
        # Refuse to adopt a directory with unrelated contents.
        if [[ -n $(ls -A -- "$DIR") && ! -f "$DIR/$MARKER" ]]; then
            die "'$DIR' is not empty and holds no cluster made by this script"
        fi
    else
        mkdir -p -- "$DIR"
    fi
    # Unix socket paths are limited to 107 bytes (".s.PGSQL.NNNNN" included).
    if ((${#SOCK} + 16 > 107)); then
        die "socket path '$SOCK' is too long for a Unix socket; use a shorter DIR"
    fi
    touch "$DIR/$MARKER"
    mkdir -p "$SOCK"
    own_pg -R "$DIR"
    chmod 0700 "$DIR"

    if [[ ! -f "$DATA/PG_VERSION" ]]; then
        log "initdb in $DATA"
        rm -rf -- "$DATA" # a half-made one from an interrupted run
        # C locale/UTF8: no dependency on the machine's installed locales.
        # --no-sync: a test cluster needs no durability. Its chatty stdout is
        # dropped; errors still reach stderr.
        as_pg "$PG_BINDIR/initdb" -D "$DATA" -U postgres --auth=trust \
            --encoding=UTF8 --locale=C --no-sync >/dev/null
        # Trust only the unix socket and 127.0.0.1; nothing else may connect.
        cat >"$DATA/pg_hba.conf" <<EOF
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   trust
EOF
        cat >>"$DATA/postgresql.conf" <<EOF

# ---- added by scripts/pg.sh: throwaway test cluster, speed over safety ----
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCK'
fsync = off
full_page_writes = off
synchronous_commit = off
max_connections = 300
# The port lives in its own file so a restart can pick a new one.
include_if_exists = 'nishan_port.conf'
EOF
        own_pg "$DATA/pg_hba.conf" "$DATA/postgresql.conf"
    fi
}

set_port() {
    printf 'port = %s\n' "$1" >"$PORTCONF"
    own_pg "$PORTCONF"
}

start() {
    if is_running; then
        local port
        port=$(current_port)
        [[ -n $port ]] || die "cluster in $DIR is running but its port is unknown"
        log "already running in $DIR on port $port"
        url_for_port "$port"
        return
    fi
    [[ -x "$PG_BINDIR/pg_ctl" ]] ||
        die "no PostgreSQL server binaries in $PG_BINDIR (install postgresql-15 or set PG_BINDIR)"
    init_cluster

    # Keep a previously used port if it is still free; otherwise pick another.
    # The pick can race with another process grabbing the port, so retry.
    local port attempt logsize
    port=$(current_port)
    for attempt in 1 2 3 4 5; do
        if [[ -z $port ]] || port_in_use "$port"; then
            port=$(free_port)
        fi
        set_port "$port"
        log "starting on 127.0.0.1:$port (log: $LOGFILE)"
        # pg_ctl appends to the log: only look at what this attempt wrote.
        logsize=$(stat -c %s "$LOGFILE" 2>/dev/null || echo 0)
        if as_pg "$PG_BINDIR/pg_ctl" start -w -t 60 -D "$DATA" -l "$LOGFILE" >&2; then
            url_for_port "$port"
            return
        fi
        if tail -c "+$((logsize + 1))" "$LOGFILE" 2>/dev/null |
            grep -q 'could not bind\|Address already in use'; then
            log "port $port was taken (attempt $attempt), retrying with another"
            port=
            continue
        fi
        break
    done
    log "server failed to start; last lines of $LOGFILE:"
    tail -n 30 "$LOGFILE" >&2 2>/dev/null || true
    exit 1
}

stop() {
    if [[ ! -e $DIR ]]; then
        log "$DIR does not exist; nothing to stop"
        return
    fi
    # An empty DIR is what a `start` that failed early leaves behind.
    if [[ -d $DIR && -z $(ls -A -- "$DIR") ]]; then
        rmdir -- "$DIR"
        log "removed empty $DIR"
        return
    fi
    [[ -f "$DIR/$MARKER" ]] ||
        die "'$DIR' holds no cluster made by this script; not touching it"
    if is_running; then
        log "stopping cluster in $DIR"
        if ! as_pg "$PG_BINDIR/pg_ctl" stop -D "$DATA" -m fast -w -t 60 >&2; then
            log "fast stop failed; trying immediate"
            as_pg "$PG_BINDIR/pg_ctl" stop -D "$DATA" -m immediate -w -t 30 >&2
        fi
    fi
    rm -rf -- "$DIR"
    log "removed $DIR"
}

case $cmd in
start) start ;;
stop) stop ;;
status)
    if is_running; then
        url_for_port "$(current_port)"
    else
        exit 1
    fi
    ;;
*) usage ;;
esac
