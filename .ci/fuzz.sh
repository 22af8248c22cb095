#!/usr/bin/env bash
# The fuzzer's CI budget: tools/fuzz_postproc.py on a fixed seed and case range (the same cases
# every run, so a failure replays with the command it prints): 300,000 calls, about 80 s on 2
# idle cores (3,900 calls/s), about 2 minutes on a busy CI machine. Fails on any crash, hang,
# wrong result or unclear error; the summary and each failing case (with its --replay command)
# land in fuzz_out/ (git-ignored).
#
#   .ci/fuzz.sh            (PYTHON=python3 FUZZ_CALLS=300000 FUZZ_SEED=20261204 JOBS=2)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
start="$(date +%s)"
status=0
"$PY" tools/fuzz_postproc.py --calls "${FUZZ_CALLS:-300000}" --seed "${FUZZ_SEED:-20261204}" \
    --workers "${JOBS:-2}" --timeout 30 --quiet --out fuzz_out || status=$?
cat fuzz_out/fuzz.md
echo "fuzz: $(($(date +%s) - start)) s, exit $status"
exit "$status"
