#!/usr/bin/env bash
# Fails unless the installed imggen_rt._postproc holds device code (cubins) for the GPUs we ship
# to: sm_87 (Jetson Orin) and sm_90 (H100), and its PTX has no fused multiply-add (the kernel
# must match the CPU bit for bit). No GPU is needed: cuobjdump reads the fat binary.
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

# The kernel must round like the CPU loop: built with --fmad=false, its PTX has separate
# mul.rn/add.rn and no fused multiply-add.
if "$cuobjdump" --dump-ptx "$so" | grep -q 'fma\.rn\.f32'; then
    echo "FAIL: the PTX contains fma.rn.f32 (was --fmad=false dropped?)" >&2
    status=1
else
    echo "OK: no fused multiply-add in the PTX"
fi
exit $status
