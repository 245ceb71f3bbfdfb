#!/usr/bin/env bash
# Quick start, main job: install dependencies, build, find the default model and generate text.
# Usage: scripts/run.sh [--model PATH] [more `pagellm generate` flags]
set -euo pipefail
source "$(dirname "$0")/common.sh"

install_deps
build "$PAGELLM_ROOT/build"
model_args=()
if [[ " $* " != *" --model "* ]]; then
  model_args=(--model "$("$PAGELLM_ROOT/scripts/default_model.sh")")
fi
exec "$PAGELLM_ROOT/build/tools/pagellm" generate "${model_args[@]}" \
  --prompt "Once upon a time" --max-tokens 128 --temperature 0 "$@"
