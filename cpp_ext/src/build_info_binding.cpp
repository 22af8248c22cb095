// What this build of imggen_rt._postproc holds and what it runs on (see bindings.h).
#include "bindings.h"
#include "cpu_loop.h"
#if defined(IMGGEN_WITH_CUDA)
#include "cuda_device.h"
#endif

namespace imggen::py {

bool built_with_cuda() {
#if defined(IMGGEN_WITH_CUDA)
    return true;
#else
    return false;
#endif
}

int cuda_device_count() {
#if defined(IMGGEN_WITH_CUDA)
    return imggen::cuda_device_count();
#else
    return 0;
#endif
}

std::vector<int> cuda_architectures() {
#if defined(IMGGEN_WITH_CUDA) && defined(IMGGEN_CUDA_ARCHS)
    return {IMGGEN_CUDA_ARCHS};
#else
    return {};
#endif
}

int openmp_threads() { return imggen::openmp_threads(); }

}  // namespace imggen::py
