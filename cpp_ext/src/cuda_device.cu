// Device presence for the bindings (declared in cuda_device.h).
#include <cuda_runtime.h>

#include <string>

#include "cuda_device.h"

namespace imggen {

int cuda_device_count() noexcept {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return count;
}

std::string cuda_device_error() {
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    cudaGetLastError();
    if (err != cudaSuccess) return cudaGetErrorString(err);
    return count > 0 ? "" : "no CUDA device found";
}

}  // namespace imggen
