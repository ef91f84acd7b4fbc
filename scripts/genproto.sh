#!/usr/bin/env bash
# Regenerates gepad/v1 from proto/gepad/v1/*.proto. With --check, fails if the committed code differs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.
if [[ "${1:-}" == "--check" ]]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
python -m grpc_tools.protoc -I proto \
  --python_out="$out" --grpc_python_out="$out" --mypy_out="$out" --mypy_grpc_out="$out" \
  proto/gepad/v1/*.proto
if [[ "${1:-}" == "--check" ]]; then
  for f in "$out"/gepad/v1/*; do
    name=gepad/v1/$(basename "$f")
    if ! cmp -s "$f" "$name"; then
      echo "genproto: $name is out of date with proto/; run ./dev proto and commit" >&2; exit 1
    fi
  done
  echo "genproto: generated code matches proto/"
fi
