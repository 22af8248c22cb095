#!/usr/bin/env bash
# The CUDA post-process on a real GPU, in one run of about 6 minutes:
#   env      the GPU, driver, toolchain, and which Python modules this machine has
#   build    a fresh CMake build of imggen_rt._postproc with CUDA for this GPU's arch only
#   stage    that build made importable as imggen_rt without pip: runtime/ -> imggen_rt and
#            export/ -> imggen_rt/export (the mapping of pyproject's wheel.force-include),
#            symlinked into a staging folder with the built module beside them
#   archs    .ci/check_cuda_archs.sh on the staged module (this arch's cubin, --fmad=false)
#   pytest   python -m pytest -m gpu -v on the kernel tests (test files that hold `gpu` marks
#            and call _postproc), junit xml in $OUT
#   bench    benchmarks/bench_kernels_gpu.py: every kernel timed with CUDA events on CuPy
#            arrays and compared with the CPU loop, JSON + markdown in $OUT
# Each step's exit code, time and log go to $OUT; a failing step does not stop the next ones.
# Nothing is downloaded or pip-installed. A Python module the tests import but this machine
# lacks is reported; hypothesis and OpenCV get a stand-in (none of the gpu tests use them), and
# without onnx (tests/conftest.py) pytest runs with --noconftest.
#
#   OUT=/path/for/results tools/gpu_check.sh
#
# Environment: OUT (default: a new /tmp/gpu_check_out.*), PYTHON (default python3),
# IMGGEN_GPU_ARCH (default: the GPU's compute capability, e.g. 90), GPU_CHECK_BUDGET_S (wall
# time for all steps, default 360). Exit status: 0 when every step passed, else 1.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$(mktemp -d /tmp/gpu_check_out.XXXXXX)}"
mkdir -p "$OUT" && OUT="$(cd "$OUT" && pwd)"
PY="${PYTHON:-python3}"
BUDGET="${GPU_CHECK_BUDGET_S:-360}"
T0="$(date +%s)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/imggen_gpu_check.XXXXXX")"
BUILD="$WORK/build" STAGE="$WORK/stage" SHIMS="$WORK/shims"
export ROOT OUT PY BUILD STAGE SHIMS
exec > >(tee -a "$OUT/gpu_check.log") 2>&1

# nvcc and cuobjdump from the toolkit when it is not on the PATH.
for d in "${CUDA_HOME:-}/bin" /usr/local/cuda/bin; do
    [[ -x "$d/nvcc" ]] && ! command -v nvcc >/dev/null && export PATH="$PATH:$d"
done

# The GPU's compute capability: nvidia-smi, else the toolkit's device query, else 90.
SM="${IMGGEN_GPU_ARCH:-}"
if [[ -z "$SM" ]]; then
    SM="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')"
fi
if [[ -z "$SM" ]] && command -v __nvcc_device_query >/dev/null; then
    SM="$(__nvcc_device_query 2>/dev/null | tr ';' '\n' | head -1 | tr -dc '0-9')"
fi
if [[ -z "$SM" ]]; then
    echo "could not read the GPU's compute capability; building for sm_90 (H100/H200)"
    SM=90
fi
ARCH="$SM"
export SM ARCH

NAMES=() RCS=() SECS=()
record() { NAMES+=("$1"); RCS+=("$2"); SECS+=("$3"); }

# run_step NAME MAX_SECONDS FUNCTION: runs FUNCTION (exported) under timeout, within the budget.
run_step() {
    local name="$1" max="$2" fn="$3" now left limit start rc
    now="$(date +%s)"
    left=$((BUDGET - (now - T0) - 5))
    if ((left < 10)); then
        echo "=== $name: SKIPPED, the ${BUDGET}s budget is spent"
        record "$name" 124 0
        return
    fi
    limit=$((max < left ? max : left))
    echo
    echo "=== $name (limit ${limit}s) $(date -u +%H:%M:%S)"
    start="$(date +%s)"
    timeout --kill-after=10 "$limit" bash -c "$fn" 2>&1 | tee "$OUT/$name.log"
    rc="${PIPESTATUS[0]}"
    ((rc == 124 || rc == 137)) && echo "=== $name: TIMED OUT after ${limit}s"
    echo "=== $name: exit $rc in $(($(date +%s) - start))s"
    record "$name" "$rc" "$(($(date +%s) - start))"
}

step_env() {
    echo "root: $ROOT  out: $OUT  work: $WORK  arch: $ARCH"
    nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv 2>&1 ||
        echo "nvidia-smi: not available"
    nvcc --version 2>&1 | tail -2 || echo "nvcc: not found"
    cmake --version 2>&1 | head -1 || echo "cmake: not found"
    echo "ninja $(ninja --version 2>&1 || echo 'not found')"
    "$PY" - <<'EOF'
import importlib, json, os, platform, sys
print(f"python {platform.python_version()} at {sys.executable}")
NEEDED = {  # module: what needs it here
    "numpy": "the extension's CPU functions, the tests, the bench",
    "nanobind": "the build",
    "pytest": "the gpu tests",
    "hypothesis": "tests/post/test_postproc.py (stand-in if missing: property tests skip)",
    "cv2": "imggen_rt.post, imported by test_post_cuda.py (stand-in if missing)",
    "onnx": "tests/conftest.py (pytest runs with --noconftest if missing)",
    "cupy": "benchmarks/bench_kernels_gpu.py",
}
OTHER = ["onnxruntime", "yaml", "rich", "torch", "cuda.bindings", "scikit_build_core"]
found, missing = {}, []
for name in [*NEEDED, *OTHER]:
    try:
        m = importlib.import_module(name)
        found[name] = str(getattr(m, "__version__", "yes"))
    except Exception as e:  # noqa: BLE001
        found[name] = None
        if name in NEEDED:
            missing.append(name)
            print(f"MISSING: {name} ({type(e).__name__}: {e}); needed by {NEEDED[name]}")
for name, version in found.items():
    print(f"  {name:18s} {version or '-'}")
json.dump({"python": sys.executable, "modules": found, "missing": missing},
          open(os.path.join(os.environ["OUT"], "env.json"), "w"), indent=2)
EOF
}

step_configure() {
    local gen=()
    command -v ninja >/dev/null && gen=(-G Ninja)
    cmake -S "$ROOT" -B "$BUILD" "${gen[@]}" -DIMGGEN_CUDA=ON -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_CUDA_ARCHITECTURES="$ARCH" -DPython_EXECUTABLE="$(command -v "$PY")"
}

step_build() {
    cmake --build "$BUILD" -j "$(nproc)"
}

step_stage() {
    bash "$ROOT/tools/stage_imggen_rt.sh" "$BUILD" "$STAGE" || return 1
    PYTHONPATH="$STAGE" "$PY" - <<'EOF'
import os, subprocess, sys
import imggen_rt._postproc as m
stage = os.environ["STAGE"]
print(f"module {m.__file__}")
print(f"built_with_cuda={m.built_with_cuda()} cuda_architectures={m.cuda_architectures()} "
      f"cuda_device_count={m.cuda_device_count()} openmp_threads={m.openmp_threads()}")
if not m.__file__.startswith(stage):
    sys.exit(f"FAIL: imported {m.__file__}, not the staged build (an installed imggen_rt shadows it)")
if not m.built_with_cuda():
    sys.exit("FAIL: the module was built without CUDA")
if m.cuda_device_count() == 0:
    try:
        smi = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout.strip()
    except OSError:
        smi = ""
    sys.exit("FAIL: the module sees no usable CUDA device" + (
        f" although nvidia-smi lists: {smi} (driver older than the CUDA runtime linked in?)"
        if smi else ""))
EOF
}

# Fails unless `import imggen_rt._postproc` finds the staged build (an installed imggen_rt,
# editable ones above all, can take precedence over PYTHONPATH).
check_resolves() {
    local found
    found="$(PYTHONPATH="$STAGE" "$PY" -c 'import imggen_rt._postproc as m; print(m.__file__)')"
    [[ "$found" == "$STAGE"/* ]] && return 0
    echo "FAIL: imggen_rt._postproc resolves to ${found:-nothing}, not the staged build in $STAGE"
    return 1
}

step_archs() {
    check_resolves || return 1
    REQUIRED_SMS="$SM" PYTHONPATH="$STAGE" bash "$ROOT/.ci/check_cuda_archs.sh" "$PY"
}

# Stand-ins for modules the kernel tests import but never use on the gpu path.
write_shims() {
    mkdir -p "$SHIMS"
    if ! "$PY" -c 'import hypothesis' 2>/dev/null; then
        echo "stand-in: hypothesis (property tests, none of them gpu tests, are skipped)"
        mkdir -p "$SHIMS/hypothesis/extra"
        cat >"$SHIMS/hypothesis/__init__.py" <<'EOF'
"""Stand-in written by tools/gpu_check.sh: hypothesis is not installed; @given tests skip."""
import functools

import pytest

from . import strategies
from .strategies import ANY


def given(*args, **kwargs):
    def decorate(fn):
        @pytest.mark.skip(reason="hypothesis is not installed (gpu_check.sh stand-in)")
        def skipped():
            pass

        return functools.wraps(fn, assigned=("__module__", "__name__", "__qualname__"))(skipped)

    return decorate


def settings(*args, **kwargs):
    return lambda fn: fn


settings.register_profile = settings.load_profile = lambda *a, **k: None


def __getattr__(name):
    return ANY
EOF
        cat >"$SHIMS/hypothesis/strategies.py" <<'EOF'
"""Stand-in: every strategy is one inert object."""


class _Any:
    def __call__(self, *args, **kwargs):
        return self

    def __getattr__(self, name):
        return self


ANY = _Any()
DrawFn = object


def composite(fn):
    return lambda *args, **kwargs: ANY


def __getattr__(name):
    return ANY
EOF
        : >"$SHIMS/hypothesis/extra/__init__.py"
        printf 'from ..strategies import ANY\n\n\ndef __getattr__(name):\n    return ANY\n' \
            >"$SHIMS/hypothesis/extra/numpy.py"
    fi
    if ! "$PY" -c 'import cv2' 2>/dev/null; then
        echo "stand-in: cv2 (imggen_rt.post imports it; only the mask ops call it)"
        mkdir -p "$SHIMS/cv2"
        cat >"$SHIMS/cv2/__init__.py" <<'EOF'
"""Stand-in written by tools/gpu_check.sh: OpenCV is not installed."""


def __getattr__(name):
    raise AttributeError(f"cv2.{name}: OpenCV is not installed (gpu_check.sh stand-in)")
EOF
    fi
}

step_pytest() {
    "$PY" -c 'import pytest' 2>/dev/null || { echo "FAIL: pytest is not installed"; return 127; }
    "$PY" -c 'import numpy' 2>/dev/null || { echo "FAIL: numpy is not installed"; return 127; }
    check_resolves || return 1
    write_shims
    local files=() extra=() f
    while IFS= read -r f; do files+=("$f"); done < <(
        cd "$ROOT" && grep -rl --include='test_*.py' -e 'mark\.gpu' tests | xargs -r grep -l '_postproc' | sort
    )
    ((${#files[@]})) || { echo "FAIL: no test file with gpu marks calls _postproc"; return 1; }
    [[ -d "$SHIMS/hypothesis" ]] && extra+=(-p no:hypothesispytest)
    if ! "$PY" -c 'import onnx' 2>/dev/null; then
        echo "onnx is not installed: tests/conftest.py cannot load, running with --noconftest"
        extra+=(--noconftest)
    fi
    echo "kernel tests: ${files[*]}"
    cd "$ROOT" && PYTHONPATH="$STAGE:$SHIMS" "$PY" -m pytest -m gpu -v -p no:cacheprovider \
        --junitxml="$OUT/pytest_gpu.xml" "${extra[@]}" "${files[@]}"
}

step_bench() {  # the staged module by its path, whatever else is installed
    local so
    so="$(find "$STAGE/imggen_rt" -maxdepth 1 -name '_postproc*.so' | head -1)"
    [[ -n "$so" ]] || { echo "FAIL: no staged module (see stage.log)"; return 1; }
    IMGGEN_POSTPROC_SO="$so" "$PY" "$ROOT/benchmarks/bench_kernels_gpu.py" --out "$OUT" || return
    # The bench skips (exit 0) without CuPy or a device; with a GPU here, that is a failure.
    if grep -q '"skipped"' "$OUT/bench_kernels_gpu.json" && nvidia-smi -L >/dev/null 2>&1; then
        echo "FAIL: the bench skipped on a machine with a GPU (see above)"
        return 3
    fi
}

export -f step_env step_configure step_build step_stage check_resolves step_archs write_shims \
    step_pytest step_bench
export WORK

run_step env 40 step_env
run_step configure 90 step_configure
run_step build 240 step_build
run_step stage 30 step_stage
run_step archs 60 step_archs
run_step pytest 150 step_pytest
run_step bench 200 step_bench

# Summary: every step's exit code and time, as JSON and markdown.
status=0
{
    echo "# tools/gpu_check.sh"
    echo
    echo "arch: $ARCH; total $(($(date +%s) - T0))s of a ${BUDGET}s budget; logs: <step>.log"
    echo
    echo "| step | exit | seconds |"
    echo "|---|---|---|"
    for i in "${!NAMES[@]}"; do echo "| ${NAMES[$i]} | ${RCS[$i]} | ${SECS[$i]} |"; done
} >"$OUT/summary.md"
{
    printf '{\n  "arch": "%s",\n  "total_s": %d,\n  "steps": [\n' "$ARCH" "$(($(date +%s) - T0))"
    for i in "${!NAMES[@]}"; do
        sep=","
        ((i == ${#NAMES[@]} - 1)) && sep=""
        printf '    {"step": "%s", "exit": %d, "seconds": %d}%s\n' \
            "${NAMES[$i]}" "${RCS[$i]}" "${SECS[$i]}" "$sep"
        ((RCS[i] != 0)) && status=1
    done
    printf '  ],\n  "ok": %s\n}\n' "$([[ $status -eq 0 ]] && echo true || echo false)"
} >"$OUT/summary.json"
echo
cat "$OUT/summary.md"
echo "results in $OUT"
exec 1>&- 2>&-  # let tee finish gpu_check.log
sleep 1
exit $status
