#!/usr/bin/env bash
# Makes a freshly built _postproc importable as imggen_rt without pip: runtime/ -> imggen_rt and
# export/ -> imggen_rt/export (the mapping of pyproject's wheel.force-include), symlinked into
# STAGE with the module built under BUILD copied beside them. Put STAGE first on PYTHONPATH.
# Used by tools/gpu_check.sh and .ci/sanitize.sh.
#
#   tools/stage_imggen_rt.sh BUILD STAGE
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$1" STAGE="$2"
rm -rf "$STAGE" && mkdir -p "$STAGE/imggen_rt"
shopt -s nullglob dotglob
for entry in "$ROOT"/runtime/*; do
    name="$(basename "$entry")"
    case "$name" in __pycache__ | _postproc*.so) continue ;; esac
    ln -s "$entry" "$STAGE/imggen_rt/$name"
done
ln -s "$ROOT/export" "$STAGE/imggen_rt/export"
so="$(find "$BUILD" -name '_postproc*.so' | head -1)"
[[ -n "$so" ]] || { echo "FAIL: no _postproc*.so under $BUILD (did the build fail?)"; exit 1; }
cp "$so" "$STAGE/imggen_rt/"
