#!/usr/bin/env bash
# The extension under AddressSanitizer + UndefinedBehaviorSanitizer, CPU only (IMGGEN_CUDA=OFF),
# built with CMake into build-sanitize/ (git-ignored; the installed imggen_rt is not touched) and
# staged as imggen_rt (runtime/ symlinked, the sanitized module beside it, as tools/gpu_check.sh
# stages). Then, under the sanitizers: the post-process tests (tests/post) and a short fuzz run
# (tools/fuzz_postproc.py, .ci/fuzz.sh's cases, whose workers inherit the sanitizers: any report
# kills the worker and is counted as a crash with its stderr saved). About 1.5 minutes on 2
# idle cores (build 20 s, tests 10 s, 150,000 fuzz calls 50 s), up to 3 on a busy machine.
#
#   .ci/sanitize.sh                      (PYTHON=python3 JOBS=2 FUZZ_CALLS=150000 OUT=build-sanitize)
#
# gcc's ASan must be the first library in the process, so Python runs with LD_PRELOAD=libasan.
# detect_leaks=0: CPython keeps objects alive until exit by design. allocator_may_return_null=1:
# a huge numpy allocation (the hostile-input tests ask for some) is a MemoryError, not an ASan
# abort. UBSan halts on the first error (-fno-sanitize-recover, halt_on_error=1), and also
# checks float -> int conversions of out-of-range values (float-cast-overflow).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
JOBS="${JOBS:-2}"
FUZZ_CALLS="${FUZZ_CALLS:-150000}"
OUT="${OUT:-$ROOT/build-sanitize}"
BUILD="$OUT/cmake" STAGE="$OUT/stage"
T0="$(date +%s)"
step() { echo "=== $1 ($(($(date +%s) - T0)) s)"; }

# nanobind is a build-time requirement (pip's isolated build env has it; this CMake build needs
# it in this Python).
"$PY" -c "import nanobind" 2>/dev/null || "$PY" -m pip install -q "nanobind>=2.4"

step "configure + build (ASan + UBSan, CPU only, -j$JOBS)"
mkdir -p "$OUT"
flags="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all"
flags="$flags -fno-omit-frame-pointer -g"
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S "$ROOT" -B "$BUILD" "${gen[@]}" -DIMGGEN_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DPython_EXECUTABLE="$(command -v "$PY")" >"$OUT/configure.log" 2>&1 ||
    { cat "$OUT/configure.log"; exit 1; }
cmake --build "$BUILD" -j "$JOBS"

step "stage runtime/ -> imggen_rt with the sanitized module"
bash "$ROOT/tools/stage_imggen_rt.sh" "$BUILD" "$STAGE"
# An editable install of imggen_rt puts its finder ahead of PYTHONPATH; drop it in this process.
cat >"$STAGE/sitecustomize.py" <<'EOF'
"""Written by .ci/sanitize.sh: import imggen_rt from this folder, not an editable install."""
import sys

sys.meta_path[:] = [f for f in sys.meta_path if not type(f).__module__.startswith("_editable_skbc")]
EOF

export PYTHONPATH="$STAGE${PYTHONPATH:+:$PYTHONPATH}"
# libstdc++ too: ASan resolves the real __cxa_throw when it starts, and python itself does not
# link libstdc++, so without it the first C++ exception (nanobind's ValueError) hits a CHECK.
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)"
export LD_PRELOAD
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:abort_on_error=1:halt_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
found="$("$PY" -c 'import imggen_rt._postproc as m; print(m.__file__)')"
[[ "$found" == "$STAGE"/* ]] || { echo "FAIL: imggen_rt._postproc is $found, not the staged build"; exit 1; }
echo "module: $found"

step "tests/post under the sanitizers"
# Three tests run the bundled model, through OpenVINO, which aborts in compile_model under a
# preloaded ASan (not in this extension); the normal suite runs them.
"$PY" -m pytest tests/post -q -p no:cacheprovider -x \
    --deselect tests/post/test_post_chain.py::test_generator_applies_the_chain_per_image \
    --deselect tests/post/test_post_chain.py::test_batches_stream_with_the_chain \
    --deselect tests/post/test_post_chain.py::test_cli_generate_and_postprocess

step "fuzz: $FUZZ_CALLS calls under the sanitizers"
"$PY" tools/fuzz_postproc.py --calls "$FUZZ_CALLS" --seed "${FUZZ_SEED:-20261204}" --workers "$JOBS" \
    --timeout 60 --quiet --out "$OUT/fuzz"

step "done: no sanitizer report"
