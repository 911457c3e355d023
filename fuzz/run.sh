#!/usr/bin/env bash
# Coverage-guided fuzzing of bevy_luau with cargo-fuzz (libFuzzer), on stable Rust.
#
#   fuzz/run.sh SECONDS                  every target for about SECONDS seconds in all
#   fuzz/run.sh --repro TARGET FILE      runs TARGET on one input (a finding, or a corpus seed)
#
# cargo-fuzz passes rustc flags that stable Rust accepts only with RUSTC_BOOTSTRAP=1, which this
# script sets; it installs cargo-fuzz when it is missing. Each target reads two folders:
#   fuzz/seeds/<target>    hand-written inputs and past findings, by name; `cargo test` replays
#                          them (tests/fuzz_corpus.rs), and this script never changes them;
#   fuzz/corpus/<target>   what the fuzzer found worth keeping, minimized after each run.
# Both are checked in, so the next run starts where the last one stopped.
# A finding is fixed in the crate and its input kept in fuzz/seeds/<target> with a test in tests/.
# Exits non-zero on any finding, after printing how to reproduce it.
#
# Besides a crash, a finding is a broken invariant of the harness (fuzz/harness/mod.rs). For
# lua_source and library_calls that includes two bounds, taken from the app's ScriptConfig
# (fuzz/harness/watch.rs):
#   - frame time: no app.update() longer than 10 x ScriptConfig::time_limit + 100 ms. Mind that
#     libFuzzer's compare tracing makes Rust's byte loops tens of times slower, so a loop of 100
#     console lines of megabytes can break it here and not in a release build;
#   - Rust memory: the peak of live bytes during an input, less those at its start, within each
#     VM's ScriptConfig::memory_limit (main VM and workers) plus one conversion's cap and an
#     allowance for the app, counted by a counting global allocator (fuzz/harness/memory.rs;
#     it sees Luau's heaps, which mlua allocates through Rust's allocator).
# lua_source runs every input in one app that it resets in between (fuzz/harness/source.rs). A
# finding that --repro (one input, a new app) does not reproduce came from what an earlier input
# left behind; BEVY_LUAU_FUZZ_FRESH=1 gives each input a new app, and BEVY_LUAU_FUZZ_REPORT=1
# prints each input's slowest frame and peak memory.
set -euo pipefail

cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
TARGETS=(lua_source library_calls script_value files)
FLAGS=(--sanitizer none)

if ! command -v cargo-fuzz > /dev/null; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked --version 0.13.2
fi

if [[ "${1:-}" == "--repro" ]]; then
    target="${2:?usage: fuzz/run.sh --repro TARGET FILE}"
    file="${3:?usage: fuzz/run.sh --repro TARGET FILE}"
    exec cargo fuzz run "${FLAGS[@]}" "$target" "$(realpath "$file")"
fi

total="${1:?usage: fuzz/run.sh SECONDS | --repro TARGET FILE}"
per_target=$(( total / ${#TARGETS[@]} ))
if (( per_target < 1 )); then per_target=1; fi

cargo fuzz build "${FLAGS[@]}"
mkdir -p logs
findings=0
summary=()
for target in "${TARGETS[@]}"; do
    mkdir -p "corpus/$target" "seeds/$target" "artifacts/$target"
    log="logs/$target.log"
    echo "== $target for ${per_target}s"
    extra=()
    if [[ "$target" == "lua_source" ]]; then extra=(-dict=lua.dict); fi
    if cargo fuzz run "${FLAGS[@]}" "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$per_target" -timeout=30 -rss_limit_mb=4096 \
        -print_final_stats=1 "${extra[@]}" > "$log" 2>&1; then
        status="ok"
    else
        status="FINDING"
        findings=$(( findings + 1 ))
        artifact=$(grep -o "artifacts/$target/[A-Za-z0-9_-]*" "$log" | tail -1 || true)
        grep -E "panicked|ERROR|SUMMARY" "$log" | head -5 || true
        echo "reproduce with: fuzz/run.sh --repro $target fuzz/$artifact"
        echo "then keep it: cp fuzz/$artifact fuzz/seeds/$target/<what it is>, and add a test in tests/"
    fi
    runs=$(grep -o "stat::number_of_executed_units: *[0-9]*" "$log" | grep -o "[0-9]*$" | tail -1 || echo "?")
    rate=$(grep -o "stat::average_exec_per_sec: *[0-9]*" "$log" | grep -o "[0-9]*$" | tail -1 || echo "?")
    summary+=("$target: $status, $runs runs, $rate exec/s")
    # Keep the checked-in corpus small: only inputs that add coverage (the seeds stay as they are).
    cargo fuzz cmin "${FLAGS[@]}" "$target" "corpus/$target" > "logs/$target.cmin.log" 2>&1 || true
done

printf '%s\n' "${summary[@]}"
if (( findings > 0 )); then
    echo "$findings target(s) found a problem; each finding becomes a test in tests/"
    exit 1
fi
