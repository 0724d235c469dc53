#!/usr/bin/env bash
# The tools every test needs besides Rust, checked before any test runs:
#
#   scripts/prerequisites.sh
#
# - the PostgreSQL 15 server binaries in PG_BINDIR (default /usr/lib/postgresql/15/bin), unless
#   NISHAN_TEST_POSTGRES_URL names a server to use;
# - Python 3 with its venv module (the outside readers' virtual environment);
# - Node.js 20 or later with npm (tests/node);
# - Chromium (tests/node opens GraphiQL in it, headless).
#
# Run as root (as CI runs), it installs what is missing with apt-get (Debian's packages). Run as
# anyone else, or with NISHAN_NO_INSTALL=1, it names what is missing and the command that
# installs it, and fails: a missing tool never turns into a skipped test. Cargo is checked too,
# but not installed.
set -euo pipefail

PG_BINDIR="${PG_BINDIR:-/usr/lib/postgresql/15/bin}"
# Where Debian's postgresql-common reads how to create clusters (a test points it elsewhere).
PG_CREATECLUSTER_DIR="${PG_CREATECLUSTER_DIR:-/etc/postgresql-common/createcluster.d}"

log() { printf 'prerequisites: %s\n' "$*" >&2; }

# Debian packages to install, and what each is for.
packages=()
reasons=()
want() {
    packages+=("$1")
    reasons+=("$2")
}

node_major() { node --version 2>/dev/null | sed -n 's/^v\([0-9][0-9]*\)\..*/\1/p'; }

check() {
    packages=()
    reasons=()
    if [[ -z ${NISHAN_TEST_POSTGRES_URL:-} && ! -x "$PG_BINDIR/pg_ctl" ]]; then
        want postgresql-15 "the PostgreSQL 15 server (no pg_ctl in $PG_BINDIR; or set NISHAN_TEST_POSTGRES_URL to a server of yours)"
    fi
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        want python3-venv "Python 3 with its venv module, for the outside readers (spaCy, datasets, seqeval)"
    fi
    if ! command -v node >/dev/null 2>&1; then
        want nodejs "Node.js, for tests/node"
    fi
    if ! command -v npm >/dev/null 2>&1; then
        want npm "npm, for tests/node"
    fi
    if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
        want chromium "Chromium, for the GraphiQL browser test of tests/node"
    fi
}

if ! command -v cargo >/dev/null 2>&1; then
    log "cargo is missing: install Rust with rustup (the toolchain of this repository's Cargo.lock, edition 2024)"
    exit 1
fi

check
if ((${#packages[@]} > 0)); then
    for i in "${!packages[@]}"; do
        log "missing: ${reasons[$i]}"
    done
    if [[ $EUID -ne 0 || -n ${NISHAN_NO_INSTALL:-} ]]; then
        log "install them with:  sudo apt-get install -y --no-install-recommends ${packages[*]}"
        log "(or run scripts/test.sh as root, which installs them)"
        exit 1
    fi
    log "installing with apt-get: ${packages[*]}"
    # Debian would create and start a "main" PostgreSQL cluster on port 5432; the tests start a
    # throwaway cluster of their own instead.
    mkdir -p "$PG_CREATECLUSTER_DIR"
    echo 'create_main_cluster = false' >"$PG_CREATECLUSTER_DIR/nishan-tests.conf"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}" </dev/null
    check
    if ((${#packages[@]} > 0)); then
        log "still missing after apt-get: ${packages[*]}"
        exit 1
    fi
fi

major=$(node_major)
if [[ -z $major || $major -lt 20 ]]; then
    log "Node.js 20 or later is needed for tests/node; this one is $(node --version 2>/dev/null || echo unknown)"
    log "(Debian 12's own nodejs package is 18: install Node.js 20 or later from the Node.js project's packages)"
    exit 1
fi
