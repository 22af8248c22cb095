#!/usr/bin/env bash
# Fails unless the installed imggen_rt._postproc holds device code (cubins) for the GPUs we ship
# to: sm_87 (Jetson Orin) and sm_90 (H100), and its PTX was built without FMA contraction (the
# kernels must match the CPU bit for bit). No GPU is needed: cuobjdump reads the fat binary.
#
#   .ci/check_cuda_archs.sh [python]      (default: python3; REQUIRED_SMS="87 90" to override)
#
# cuobjdump comes from the CUDA toolkit, or from PyPI: pip install nvidia-cuda-cuobjdump.
set -euo pipefail

python="${1:-${PYTHON:-python3}}"
required="${REQUIRED_SMS:-87 90}"

so="$("$python" -c 'import imggen_rt._postproc as m; print(m.__file__)')"
echo "module: $so"

if ! "$python" -c 'import imggen_rt._postproc as m, sys; sys.exit(not m.built_with_cuda())'; then
    echo "FAIL: imggen_rt._postproc was built without CUDA" >&2
    exit 1
fi

find_cuobjdump() {
    local c
    for c in "${CUOBJDUMP:-}" "$(command -v cuobjdump || true)" \
        "${CUDA_HOME:-/usr/local/cuda}/bin/cuobjdump" /usr/local/cuda/bin/cuobjdump; do
        [[ -n "$c" && -x "$c" ]] && { echo "$c"; return; }
    done
    # The PyPI wheel puts it under site-packages/nvidia/cu*/bin.
    "$python" - <<'EOF'
import glob, os, site, sys
roots = site.getsitepackages() + [site.getusersitepackages()]
for root in roots:
    pattern = os.path.join(root, "nvidia", "*", "bin", "cuobjdump")
    for path in sorted(glob.glob(pattern), reverse=True):
        if os.access(path, os.X_OK):
            print(path)
            sys.exit(0)
sys.exit(1)
EOF
}

if ! cuobjdump="$(find_cuobjdump)"; then
    echo "FAIL: cuobjdump not found (CUDA toolkit, or: pip install nvidia-cuda-cuobjdump)" >&2
    exit 1
fi

listing="$("$cuobjdump" --list-elf "$so")"
echo "$listing"
found="$(grep -oE 'sm_[0-9]+[a-z]?' <<<"$listing" | sort -u | tr '\n' ' ')"
echo "cubins: $found"

status=0
for sm in $required; do
    if ! grep -qE "(^| )sm_${sm}[a-z]?( |$)" <<<" $found"; then
        echo "FAIL: no sm_${sm} cubin in $so" >&2
        status=1
    fi
done
[[ $status -eq 0 ]] && echo "OK: cubins for sm_${required// /, sm_} present"

# The kernels must round like the CPU loops: every PTX in the fat binary is compiled with
# --fmad=false (no mul + add contracted into an fma). The PTX is captured first: `cuobjdump |
# grep -q` under pipefail reports SIGPIPE, not the match. Explicit fused multiply-adds remain
# where CUDA's own math library writes them (powf, in the point kernel's gamma op; the tests
# allow that op one level), so fma.rn.f32 is an error in any other kernel.
ptx="$("$cuobjdump" --dump-ptx "$so")"
n_ptx="$(grep -c '^Fatbin ptx code' <<<"$ptx" || true)"
n_nofma="$(grep -cE '^ptxasOptions = .*--fmad false' <<<"$ptx" || true)"
if [[ "$n_ptx" -eq 0 || "$n_nofma" -ne "$n_ptx" ]]; then
    echo "FAIL: $n_nofma of $n_ptx PTX images were built with --fmad=false" >&2
    status=1
else
    echo "OK: all $n_ptx PTX images built with --fmad=false"
fi
fused="$(awk '/\.(entry|func) /{name = $2} /fma\.rn\.f32/{print name}' <<<"$ptx" |
    grep -v 'point_kernel' | sort -u || true)"
if [[ -n "$fused" ]]; then
    echo "FAIL: fma.rn.f32 in the PTX of: $fused" >&2
    status=1
else
    echo "OK: no fused multiply-add in the PTX (outside CUDA's powf in point_kernel)"
fi
exit $status
