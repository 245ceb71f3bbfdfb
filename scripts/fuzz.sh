#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang, ASan + UBSan) in build-fuzz/ and runs each for
# SECONDS (default 60), seeded from ../shared when present (fuzz/make_seeds.py) plus the committed
# seeds in fuzz/corpus/. Prints executions and coverage (cov = edges, ft = features, from
# libFuzzer's final stats) per target. Exits non-zero if a target crashed, hung or ran out of
# memory; the input that did it is kept in build-fuzz/crashes/<target>/.
#
#   scripts/fuzz.sh [SECONDS] [target...]     targets: safetensors gguf tokenizer_json
#                                             tokenizer_codec openai_request jinja (default: all)
# Environment: PAGELLM_FUZZ_CXX (default clang++-14), PAGELLM_JOBS (build jobs),
#   PAGELLM_FUZZ_ARGS (extra libFuzzer flags), PAGELLM_FUZZ_NO_APT=1 (skip the apt check),
#   PAGELLM_FUZZ_SKIP_BUILD=1 (reuse the built fuzzers and seeds, e.g. for parallel runs),
#   PAGELLM_FUZZ_BUILD_DIR (default build-fuzz).
# The working corpus (build-fuzz/corpus/<target>) grows across runs; delete it to start over.
set -euo pipefail
source "$(dirname "$0")/common.sh"

seconds=60
if [[ $# -gt 0 && "$1" =~ ^[0-9]+$ ]]; then seconds="$1"; shift; fi
all_targets=(safetensors gguf tokenizer_json tokenizer_codec openai_request jinja)
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "unknown fuzz target: $t (${all_targets[*]})" >&2; exit 2; }
done

[[ "${PAGELLM_FUZZ_NO_APT:-0}" == 1 ]] || install_deps clang-14 libclang-rt-14-dev
cxx="${PAGELLM_FUZZ_CXX:-clang++-14}"
dir="${PAGELLM_FUZZ_BUILD_DIR:-$PAGELLM_ROOT/build-fuzz}"
jobs="${PAGELLM_JOBS:-$(nproc)}"
shared="$(shared_dir)"

start=$SECONDS
seeds="$dir/seeds"
if [[ "${PAGELLM_FUZZ_SKIP_BUILD:-0}" != 1 ]]; then
  echo "==> fuzz build ($cxx): ${targets[*]}"
  # -O1 and line tables only: quick to compile, fast enough to fuzz, symbolized stack traces.
  cmake -S "$PAGELLM_ROOT" -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DPAGELLM_FUZZ=ON -DPAGELLM_BUILD_TESTS=OFF -DPAGELLM_BUILD_BENCHMARKS=OFF \
    -DPAGELLM_BUILD_PYTHON=OFF -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
  cmake --build "$dir" -j "$jobs" --target "${targets[@]/#/fuzz_}"
  # Seeds: cut-down shared files (skipped when absent) and synthetic inputs.
  [[ -d "$shared" ]] || echo "==> no shared data at $shared: synthetic and committed seeds only"
  rm -rf "$seeds" && /usr/bin/python3 "$PAGELLM_ROOT/fuzz/make_seeds.py" "$shared" "$seeds"
fi
build_secs=$((SECONDS - start))

declare -A dicts=([openai_request]=json [tokenizer_json]=json [safetensors]=json [jinja]=jinja)
export PAGELLM_SHARED_DIR="$shared"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=()
summary=()
for t in "${targets[@]}"; do
  corpus="$dir/corpus/$t" crashes="$dir/crashes/$t" log="$dir/logs/$t.log"
  mkdir -p "$corpus" "$crashes" "$dir/logs"
  corpora=("$corpus")
  for d in "$PAGELLM_ROOT/fuzz/corpus/$t" "$seeds/$t"; do [[ -d "$d" ]] && corpora+=("$d"); done
  args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=30 -rss_limit_mb=2048
        -malloc_limit_mb=1024 -artifact_prefix="$crashes/")
  [[ -n "${dicts[$t]:-}" ]] && args+=(-dict="$PAGELLM_ROOT/fuzz/dict/${dicts[$t]}.dict")
  # shellcheck disable=SC2206
  args+=(${PAGELLM_FUZZ_ARGS:-})
  echo "==> fuzz_$t for ${seconds}s (log: $log)"
  rc=0
  "$dir/fuzz/fuzz_$t" "${args[@]}" "${corpora[@]}" >"$log" 2>&1 || rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  last=$(grep -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  cov=$(sed -E 's/.*cov: ([0-9]+).*/\1/' <<<"$last")
  ft=$(sed -E 's/.*ft: ([0-9]+).*/\1/' <<<"$last")
  corp=$(sed -E 's/.*corp: ([0-9]+).*/\1/' <<<"$last")
  line=$(printf '%-16s execs %-10s cov %-6s ft %-7s corpus %-6s' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")
  if [[ $rc -ne 0 ]]; then
    failed+=("$t")
    line+=" FAILED (exit $rc): $(ls -t "$crashes" | head -1 | sed "s|^|$crashes/|")"
    grep -E 'ERROR: |runtime error|invariant failed|SUMMARY' "$log" | head -5 || true
  fi
  summary+=("$line")
  echo "    $line"
done

echo "==> fuzz summary (${seconds}s per target; build ${build_secs}s, total $((SECONDS - start))s)"
printf '    %s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "==> fuzz FAILED: ${failed[*]} (inputs kept in $dir/crashes/; logs in $dir/logs/)" >&2
  exit 1
fi
