#!/usr/bin/env bash
# The one command that runs every test of the project:
#
#   scripts/test.sh [EXTRA CARGO TEST ARGS...]
#
# 0. scripts/prerequisites.sh: the PostgreSQL server, Python's venv, Node.js and Chromium are
#    there (run as root, it installs the missing ones with apt-get; otherwise it fails, naming
#    the command that installs them).
# 1. PostgreSQL: if NISHAN_TEST_POSTGRES_URL is unset or empty, a throwaway
#    cluster is started with scripts/pg.sh and stopped again on exit, whatever
#    the outcome. If it is set, that server is used as is.
# 2. The outside readers (spaCy, datasets, ...): a Python virtual environment under
#    target/python-venv made from tests/python/requirements.txt, with the wheels of
#    tests/python/wheels.txt downloaded beside it (again when either file changes).
# 3. cargo test --workspace --lib --bins --tests "$@" (benchmarks are run by `cargo bench`, not here)
# 4. Node tests, only if tests/node/package.json exists
#    (npm ci first when tests/node/node_modules is missing).
#
# Both test phases always run, so one run reports every failure; the script
# exits with the first failing status (0 when everything passed).
set -euo pipefail

# Work from the repository root whatever the caller's cwd.
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

phase() { printf '\n==> %s\n' "$*" >&2; }

phase "prerequisites (scripts/prerequisites.sh)"
bash scripts/prerequisites.sh

if [[ -z ${NISHAN_TEST_POSTGRES_URL:-} ]]; then
    phase "starting a throwaway PostgreSQL cluster (scripts/pg.sh)"
    # Under /tmp rather than $TMPDIR: as root the server runs as the postgres
    # user, which must be able to traverse every parent directory, and the
    # unix socket path must stay short. mktemp's 0700 dir is fine: pg.sh
    # hands it to the postgres user.
    pg_dir=$(mktemp -d /tmp/nishan-pg.XXXXXX)
    # Trap before starting, so a half-started cluster is cleaned up too.
    # The EXIT trap keeps the script's exit status; INT/TERM are turned into
    # exits so that the EXIT trap also runs on Ctrl-C or kill.
    trap 'scripts/pg.sh stop "$pg_dir" || true' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    NISHAN_TEST_POSTGRES_URL=$(scripts/pg.sh start "$pg_dir")
    export NISHAN_TEST_POSTGRES_URL
else
    phase "using PostgreSQL from NISHAN_TEST_POSTGRES_URL"
fi

status=0

venv=target/python-venv
requirements=tests/python/requirements.txt
wheels=tests/python/wheels.txt
wanted=$(cat "$requirements" "$wheels" | sha256sum | cut -d' ' -f1)
if [[ ! -x $venv/bin/python || "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$wanted" ]]; then
    phase "Python readers: $requirements into $venv (pip, from PyPI)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --dest "$venv/wheels" -r "$wheels"
    echo "$wanted" >"$venv/.requirements.sha256"
fi
NISHAN_TEST_PYTHON="$PWD/$venv/bin/python"
export NISHAN_TEST_PYTHON

phase "cargo test --workspace --lib --bins --tests${*:+ $*}"
cargo test --workspace --lib --bins --tests "$@" || status=$?

if [[ -f tests/node/package.json ]]; then
    node_status=0
    if [[ ! -d tests/node/node_modules ]]; then
        phase "npm ci (tests/node)"
        npm --prefix tests/node ci --no-audit --no-fund || node_status=$?
    fi
    if [[ $node_status -eq 0 ]]; then
        phase "npm test (tests/node)"
        # A bound on the whole run (GNU timeout signals its whole process group: the servers
        # and browsers the tests started too), so a test that hangs fails CI instead of
        # stalling it.
        timeout --kill-after=30s 25m npm --prefix tests/node test || node_status=$?
    fi
    if [[ $status -eq 0 ]]; then status=$node_status; fi
fi

if [[ $status -ne 0 ]]; then
    phase "FAILED (exit status $status)"
fi
exit "$status"
