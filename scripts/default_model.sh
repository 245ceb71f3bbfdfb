#!/usr/bin/env bash
# Prints the path of the default model, in this order: $PAGELLM_MODEL, ../shared's stories260K
# (HF folder), then a download of karpathy/tinyllamas stories260K (llama2.c format) into
# ~/.cache/pagellm, checked against pinned SHA-256 sums.
set -euo pipefail
source "$(dirname "$0")/common.sh"

if [[ -n "${PAGELLM_MODEL:-}" ]]; then echo "$PAGELLM_MODEL"; exit 0; fi
shared="$(shared_dir)/models/stories260K/hf"
if [[ -f "$shared/config.json" ]]; then (cd "$shared" && pwd); exit 0; fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/pagellm/stories260K"
base="https://huggingface.co/karpathy/tinyllamas/resolve/main/stories260K"
declare -A sums=(
  [stories260K.bin]=b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696
  [tok512.bin]=037cb335abb25d1fa9e8ecae30ed2a3a8ace9302862ebcdc05d51a6bbb10c312
)
mkdir -p "$cache"
for f in stories260K.bin tok512.bin; do
  if [[ ! -f "$cache/$f" ]] || ! echo "${sums[$f]}  $cache/$f" | sha256sum -c --status; then
    echo "==> downloading $base/$f" >&2
    if ! curl -fsSL --retry 2 -o "$cache/$f.part" "$base/$f"; then
      rm -f "$cache/$f.part"
      echo "error: no model given and $base/$f cannot be downloaded (offline?)." >&2
      echo "       pass --model PATH or set PAGELLM_MODEL to an HF folder, .gguf or llama2.c .bin." >&2
      exit 1
    fi
    if ! echo "${sums[$f]}  $cache/$f.part" | sha256sum -c --status; then
      rm -f "$cache/$f.part"
      echo "error: $f downloaded but its SHA-256 is not the pinned one; refusing to use it." >&2
      exit 1
    fi
    mv "$cache/$f.part" "$cache/$f"
  fi
done
echo "$cache/stories260K.bin"
