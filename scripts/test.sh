#!/usr/bin/env bash
# Quick start, tests: install dependencies, build, run every test: the unit and integration tests
# (CTest) in a Release build, the end-to-end server tests (OpenAI SDK), the Python API tests,
# then the CTest suite again under AddressSanitizer + UndefinedBehaviorSanitizer, and the engine-loop
# and server tests under ThreadSanitizer.
# Tests that need ../shared skip with a message when it is absent (override: PAGELLM_SHARED_DIR).
set -euo pipefail
source "$(dirname "$0")/common.sh"

install_deps "${PAGELLM_TEST_APT_PACKAGES[@]}"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then install_deps nodejs npm; fi
export PAGELLM_SHARED_DIR="$(cd "$(shared_dir)" 2>/dev/null && pwd || shared_dir)"
jobs="${PAGELLM_JOBS:-$(nproc)}"

echo "==> Release build + tests"
build "$PAGELLM_ROOT/build" -DCMAKE_BUILD_TYPE=Release
ctest --test-dir "$PAGELLM_ROOT/build" --output-on-failure -j "$jobs" --timeout 900

echo "==> end-to-end tests: pagellm serve + the OpenAI SDK (Node.js)"
(cd "$PAGELLM_ROOT/tests/e2e" && npm ci --no-audit --no-fund --loglevel=error && \
  PAGELLM_BINARY="$PAGELLM_ROOT/build/tools/pagellm" npm test)

echo "==> Python API tests (pytest)"
PYTHONPATH="$PAGELLM_ROOT/build/python" PAGELLM_BINARY="$PAGELLM_ROOT/build/tools/pagellm" \
  /usr/bin/python3 -m pytest -q "$PAGELLM_ROOT/python/tests"

echo "==> ASan + UBSan build + tests"
# -O1 -g1: line tables for the reports, at under half the -O2 -g compile time (gguf_test.cc: 45 s -> 19 s).
build "$PAGELLM_ROOT/build-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DPAGELLM_SANITIZE=ON \
  -DPAGELLM_BUILD_BENCHMARKS=OFF -DPAGELLM_BUILD_PYTHON=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$PAGELLM_ROOT/build-asan" --output-on-failure -j "$jobs" --timeout 1800

echo "==> fuzz smoke run (libFuzzer, clang, ASan + UBSan)"
# Builds only the fuzz targets and runs each for PAGELLM_FUZZ_SECONDS (default 10: CI's time
# budget; long runs are `scripts/fuzz.sh 600`) from the seeds; a crash fails the tests and its
# input stays in build-fuzz/crashes/. 0 skips the stage.
if [[ "${PAGELLM_FUZZ_SECONDS:-10}" != 0 ]]; then
  bash "$PAGELLM_ROOT/scripts/fuzz.sh" "${PAGELLM_FUZZ_SECONDS:-10}"
fi

echo "==> ThreadSanitizer build + engine-loop and server tests"
# Only the threaded parts (engine loop, HTTP transport, API server) and only their test targets,
# at -O1: this stage must stay short (~10 CPU-minutes of compiling). PAGELLM_TSAN=0 skips it.
if [[ "${PAGELLM_TSAN:-1}" != 0 ]]; then
  tsan_start=$SECONDS
  tsan_targets=(engine_loop_test engine_faults_test api_server_test http_server_test http_stream_test http_lifecycle_test
                http_limits_test http_body_budget_test)
  cmake -S "$PAGELLM_ROOT" -B "$PAGELLM_ROOT/build-tsan" -G Ninja -DPAGELLM_TSAN=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DPAGELLM_BUILD_BENCHMARKS=OFF -DPAGELLM_BUILD_PYTHON=OFF >/dev/null
  cmake --build "$PAGELLM_ROOT/build-tsan" -j "$jobs" --target "${tsan_targets[@]}"
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest --test-dir "$PAGELLM_ROOT/build-tsan" \
    --output-on-failure -j "$jobs" --timeout 900 -R '^(EngineLoopTest|EngineFaultsTest|ApiServerTest|Http[A-Za-z]*Test)\.'
  echo "==> ThreadSanitizer stage took $((SECONDS - tsan_start))s"
fi

echo "==> all tests passed"
