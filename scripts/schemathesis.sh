#!/usr/bin/env bash
# Schemathesis against a freshly started server: every check on, every operation of
# /openapi.json, so the document says what the server enforces (a request the document
# calls valid is not refused for its form, one it calls invalid is refused) and every answer
# matches its documented status, headers, content type and schema.
#
#   scripts/schemathesis.sh [SCHEMATHESIS RUN OPTIONS...]
#
# SCHEMATHESIS_MAX_EXAMPLES (default 30 per operation) and SCHEMATHESIS_SEED (default fixed,
# so CI is repeatable) tune it; further options go to `schemathesis run`, e.g.
# `--include-path /api/orders --phases coverage` to look at one operation.
#
# Schemathesis comes from PyPI, pinned, into a virtual environment under target/. The
# server listens on a free loopback port over a new, empty data directory.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
venv=target/schemathesis-venv
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "version $SCHEMATHESIS_VERSION\$"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --locked -p projector-cli
work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# Authentication on, as the document says every operation needs it: one key with every
# scope, so schemathesis reaches each operation and its auth checks find a server that
# refuses what has no valid token.
key="$(target/debug/projector api-key create --principal schemathesis \
    --scopes read,write,admin --file "$work/api-keys" 2>/dev/null)"
target/debug/projector serve --addr 127.0.0.1:0 --data "$work/data" --api-keys "$work/api-keys" \
    >"$work/stdout" 2>"$work/server.log" &
server_pid=$!
url=""
for _ in $(seq 1 300); do
    url="$(sed -n 's/^projector listening on \(http:[^ ]*\).*/\1/p' "$work/stdout" | head -n 1)"
    [[ -n "$url" ]] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "the server did not start:" >&2
        cat "$work/server.log" >&2
        exit 1
    fi
    sleep 0.1
done
[[ -n "$url" ]] || { echo "the server did not say where it listens" >&2; exit 1; }
echo "schemathesis $SCHEMATHESIS_VERSION against $url"

status=0
# --checks all: every check. Phases: the document's examples, its coverage of bounds and
# patterns (both sides of each limit), random fuzzing, and stateful sequences that follow the
# documented links. One worker: hypothesis under Python 3.11 fails with "AST constructor
# recursion depth mismatch" when several threads generate at once.
# The hooks (scripts/schemathesis_hooks.py) keep requests away from the refusals no schema can
# state (a position not reached yet, rules across fields); scripts/schemathesis.toml lets 412
# for a stale If-Match pass as the state-dependent refusal it is. No check is excluded. The
# dashboard's live feed (/admin/live) never ends (Server-Sent Events), so it is left out here; its
# own tests read a few of its events.
PYTHONPATH="scripts${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=schemathesis_hooks \
"$venv/bin/schemathesis" --no-color --config-file scripts/schemathesis.toml run "$url/openapi.json" \
    --url "$url" \
    --header "Authorization: Bearer $key" \
    --checks all \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-30}" \
    --seed "${SCHEMATHESIS_SEED:-20260501}" \
    --request-timeout 40 \
    --workers 1 \
    --generation-database none \
    --report junit --report-dir target/schemathesis-report \
    --exclude-path /admin/live \
    "$@" || status=$?

if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "the server died during the run:" >&2
    tail -n 50 "$work/server.log" >&2
    status=1
fi
if grep -q "panicked" "$work/server.log"; then
    echo "the server panicked:" >&2
    grep -A5 "panicked" "$work/server.log" >&2
    status=1
fi
exit "$status"
