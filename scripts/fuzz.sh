#!/usr/bin/env bash
# Runs each cargo-fuzz target (fuzz/fuzz_targets) for a bounded time, one after another.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 seconds, every target)
#   scripts/fuzz.sh --check      build the targets without instrumentation, replay the seeds
#
# Each target starts from its committed seed corpus (fuzz/corpus/<target>, never written) and
# keeps what it learns in target/fuzz-corpus/<target>, so later runs go on from there. A
# crash is saved under fuzz/artifacts/<target>/ and makes the script exit non-zero once every
# target has run; replay one with `scripts/fuzz.sh --replay fuzz/artifacts/<target>/<file>`.
#
# cargo fuzz needs nightly-only compiler flags (-Zsanitizer, coverage instrumentation). Only
# the stable toolchain is installed here, and RUSTC_BOOTSTRAP=1 lets it take them. Runs
# under `nice`: it is a long CPU job on a machine shared with builds. FUZZ_SANITIZER picks
# the sanitizer (default address; `none` runs faster).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--check" ]]; then
    # Builds every target as a plain binary (libFuzzer's driver, no instrumentation, stable
    # flags) and runs it once over its seed corpus: what CI does.
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
    cargo build --locked --manifest-path fuzz/Cargo.toml --bins
    for source in fuzz/fuzz_targets/*.rs; do
        target="$(basename "$source" .rs)"
        "$CARGO_TARGET_DIR/debug/$target" -runs=0 "fuzz/corpus/$target"
    done
    echo "fuzz targets: every seed replayed without a crash"
    exit 0
fi

export RUSTC_BOOTSTRAP=1
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi
sanitizer="${FUZZ_SANITIZER:-address}"
build_flags=(--release --debug-assertions --sanitizer "$sanitizer")

if [[ "${1:-}" == "--replay" ]]; then
    artifact="${2:?usage: scripts/fuzz.sh --replay fuzz/artifacts/<target>/<file>}"
    target="$(basename "$(dirname "$artifact")")"
    exec cargo fuzz run "${build_flags[@]}" "$target" "$artifact"
fi

seconds="${1:-60}"
shift || true
if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

nice -n 19 cargo fuzz build "${build_flags[@]}"

failed=()
for target in "${targets[@]}"; do
    corpus="target/fuzz-corpus/$target"
    mkdir -p "$corpus" "fuzz/artifacts/$target"
    echo "== $target: ${seconds}s"
    # -max_len: bodies and queries past 8 KiB only repeat what shorter ones reach.
    if ! nice -n 19 cargo fuzz run "${build_flags[@]}" "$target" "$corpus" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -max_len=8192 -rss_limit_mb=2048 -print_final_stats=1; then
        failed+=("$target")
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzzing found crashes in: ${failed[*]} (see fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzzing: ${#targets[@]} target(s), ${seconds}s each, no crash"
