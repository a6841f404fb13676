#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/fuzz_targets/ for a bounded time each, on the stable
# toolchain (`-s none`: libFuzzer with coverage, no sanitizer), and prints the exec count of each.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   SECONDS  time per target (default: $FUZZ_SECONDS, else 60)
#   TARGET   run only these targets (default: every fuzz/fuzz_targets/*.rs)
# Environment: FUZZ_SECONDS (as above), FUZZ_JOBS (libFuzzer -fork workers, default 1),
#   FUZZ_ARGS (extra libFuzzer flags, e.g. "-rss_limit_mb=1024").
#
# Seeds in fuzz/seeds/TARGET/ are copied into the corpus (fuzz/corpus/TARGET/) first, and
# fuzz/dicts/TARGET.dict is passed as a libFuzzer dictionary when it exists. A crash leaves the
# input in fuzz/artifacts/TARGET/; reproduce it with `cargo fuzz run -s none TARGET <file>`.
# Logs are kept in fuzz/target/logs/TARGET.log. Exit status is non-zero if any target crashed,
# failed to build or is missing from fuzz/Cargo.toml.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

secs="${FUZZ_SECONDS:-60}"
if [[ $# -gt 0 && "$1" =~ ^[0-9]+$ ]]; then
    secs="$1"
    shift
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    targets=()
    for f in fuzz/fuzz_targets/*.rs; do
        [[ -e "$f" ]] && targets+=("$(basename "$f" .rs)")
    done
fi
if [[ ${#targets[@]} -eq 0 ]]; then
    echo "fuzz.sh: no targets in fuzz/fuzz_targets/" >&2
    exit 1
fi

registered="$(cd fuzz && cargo fuzz list 2>/dev/null || true)"
mkdir -p fuzz/target/logs
declare -A result runs
failed=0
for t in "${targets[@]}"; do
    if ! grep -qx "$t" <<<"$registered"; then
        echo "fuzz.sh: $t has no [[bin]] block in fuzz/Cargo.toml (see the comment at its top)" >&2
        result[$t]="NOT REGISTERED"
        runs[$t]="-"
        failed=1
        continue
    fi
    corpus="fuzz/corpus/$t"
    mkdir -p "$corpus"
    if [[ -d "fuzz/seeds/$t" ]]; then
        cp -n fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true
    fi
    args=(-max_total_time="$secs" -print_final_stats=1)
    [[ -f "fuzz/dicts/$t.dict" ]] && args+=(-dict="fuzz/dicts/$t.dict")
    [[ "${FUZZ_JOBS:-1}" -gt 1 ]] && args+=(-fork="$FUZZ_JOBS")
    # shellcheck disable=SC2206
    [[ -n "${FUZZ_ARGS:-}" ]] && args+=($FUZZ_ARGS)
    log="fuzz/target/logs/$t.log"
    echo "== $t: ${secs}s (log: $log)"
    set +e
    cargo fuzz run -s none "$t" "$corpus" -- "${args[@]}" >"$log" 2>&1
    rc=$?
    set -e
    n="$(grep -oE 'Done [0-9]+ runs' "$log" | tail -1 | grep -oE '[0-9]+' || true)"
    if [[ -z "$n" ]]; then
        n="$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)"
    fi
    runs[$t]="${n:-?}"
    if [[ $rc -eq 0 ]]; then
        result[$t]="ok"
    else
        result[$t]="FAILED (exit $rc)"
        failed=1
        tail -n 40 "$log" >&2
        ls fuzz/artifacts/"$t"/ 2>/dev/null | sed "s|^|   artifact: fuzz/artifacts/$t/|" >&2 || true
    fi
    echo "   $t: ${result[$t]}, ${runs[$t]} runs"
done

echo
printf '%-20s %-18s %s\n' target result "runs (${secs}s each)"
for t in "${targets[@]}"; do
    printf '%-20s %-18s %s\n' "$t" "${result[$t]}" "${runs[$t]}"
done
exit "$failed"
