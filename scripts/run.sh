#!/usr/bin/env bash
# Quick start, main job: install dependencies, build, start `pagellm serve` on the default model,
# send one chat request with curl, print the answer, and stop the server.
# Usage: scripts/run.sh [--model PATH] [more `pagellm serve` flags]
set -euo pipefail
source "$(dirname "$0")/common.sh"

install_deps
build "$PAGELLM_ROOT/build"
model_args=()
if [[ " $* " != *" --model "* ]]; then
  model_args=(--model "$("$PAGELLM_ROOT/scripts/default_model.sh")")
fi
# stories260K is a base model without a chat template: give it the plain one from templates/.
template_args=()
if [[ " $* " != *" --chat-template "* ]]; then
  template_args=(--chat-template "$PAGELLM_ROOT/templates/completion.jinja")
fi
port="${PAGELLM_PORT:-8000}"
log="$(mktemp)"
"$PAGELLM_ROOT/build/tools/pagellm" serve "${model_args[@]}" "${template_args[@]}" --port "$port" "$@" 2>"$log" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log"' EXIT

for _ in $(seq 1 600); do
  if curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 $server 2>/dev/null; then cat "$log" >&2; exit 1; fi
  sleep 0.1
done
cat "$log" >&2
request='{"messages": [{"role": "user", "content": "Once upon a time, there was a little dog named Max."}],
          "max_tokens": 96, "temperature": 0}'
echo "==> POST /v1/chat/completions $request"
response="$(curl -fsS "http://127.0.0.1:$port/v1/chat/completions" -H 'Content-Type: application/json' -d "$request")"
echo "==> response: $response"
echo "==> answer:"
python3 -c 'import json, sys; print(json.load(sys.stdin)["choices"][0]["message"]["content"])' <<<"$response"
