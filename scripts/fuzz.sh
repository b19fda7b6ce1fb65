#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a fixed time, one after the other, and prints per
# target the executions (libFuzzer's final `stat::number_of_executed_units`, else its `#N DONE`
# line) and the crashes (new files in fuzz/artifacts/<target>/). Exits 1 if any target crashed
# (or leaked, timed out, ran out of memory), 2 on a setup error.
#
# usage: scripts/fuzz.sh [SECONDS_PER_TARGET (default 120)] [TARGET...]
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Seed corpora are
# generated, not committed: the `seeds` binary of fuzz/ writes valid blocks, transactions,
# sync frames and API lines; SigMF and testbed seeds are the repository's fixtures and configs.
# Corpora grow in fuzz/corpus/<target>/ (git-ignored) and are reused by later runs.
# Extra libFuzzer flags can be given in FUZZ_FLAGS (e.g. FUZZ_FLAGS="-runs=1000000").
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET="${1:-120}"
shift || true
if ! [[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || [ "$SECONDS_PER_TARGET" -eq 0 ]; then
    echo "fuzz.sh: seconds per target must be a positive integer, got '$SECONDS_PER_TARGET'" >&2
    exit 2
fi
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=(codec p2p api_protocol sigmf_meta testbed_toml)
fi
TOOLCHAIN="${FUZZ_TOOLCHAIN:-+nightly}"
TRIPLE="$(rustc "$TOOLCHAIN" -vV | sed -n 's/^host: //p')"
BIN_DIR="fuzz/target/$TRIPLE/release"
LOG_DIR="fuzz/logs"
mkdir -p "$LOG_DIR"

echo "=== building fuzz targets ($(date -u +%H:%M:%S))"
cargo "$TOOLCHAIN" fuzz build

echo "=== seed corpora"
"$BIN_DIR/seeds" fuzz/corpus
mkdir -p fuzz/corpus/sigmf_meta fuzz/corpus/testbed_toml
find radio/tests/fixtures -name '*.sigmf-meta' -exec cp {} fuzz/corpus/sigmf_meta/ \;
i=0
while IFS= read -r -d '' f; do
    cp "$f" "fuzz/corpus/testbed_toml/config-$i.toml"
    i=$((i + 1))
done < <(find testbed-configs src -name '*.toml' -print0)
for t in sigmf_meta testbed_toml; do
    echo "fuzz/corpus/$t: $(find "fuzz/corpus/$t" -type f | wc -l) inputs"
done

failed=0
summary=()
for target in "${TARGETS[@]}"; do
    artifacts="fuzz/artifacts/$target"
    mkdir -p "$artifacts"
    before=$(find "$artifacts" -type f | wc -l)
    log="$LOG_DIR/$target.log"
    echo "=== $target: ${SECONDS_PER_TARGET} s ($(date -u +%H:%M:%S)), log $log"
    set +e
    # shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
    cargo "$TOOLCHAIN" fuzz run "$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -timeout=30 \
        ${FUZZ_FLAGS:-} >"$log" 2>&1
    status=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ -z "$execs" ]; then
        execs=$(sed -n 's/^#\([0-9]*\)[[:space:]]*DONE.*/\1/p' "$log" | tail -1)
    fi
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    after=$(find "$artifacts" -type f | wc -l)
    crashes=$((after - before))
    if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        # libFuzzer failed without writing an artifact (build error, bad flag): show why.
        tail -20 "$log" >&2
        crashes="? (exit $status)"
        failed=1
    elif [ "$crashes" -ne 0 ]; then
        failed=1
        grep -E '^(==[0-9]+==|thread .* panicked|SUMMARY|artifact_prefix|Test unit written)' "$log" | head -10 >&2 || true
    fi
    line=$(printf '%-14s executions %-10s exec/s %-7s crashes %s' \
        "$target" "${execs:-?}" "${rate:-?}" "$crashes")
    echo "$line"
    summary+=("$line")
done

echo "=== summary (${SECONDS_PER_TARGET} s per target)"
printf '%s\n' "${summary[@]}"
exit "$failed"
