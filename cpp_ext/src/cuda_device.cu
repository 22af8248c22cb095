// Device presence and pointer kinds for the bindings (declared in cuda_device.h).
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

std::string cuda_pointer_problem(const void* p) {
    cudaPointerAttributes attr{};
    const cudaError_t err = cudaPointerGetAttributes(&attr, p);
    cudaGetLastError();  // an unknown pointer must not poison the next launch's error check
    if (err != cudaSuccess) return cudaGetErrorString(err);
    switch (attr.type) {
        case cudaMemoryTypeDevice:
        case cudaMemoryTypeManaged: return "";
        case cudaMemoryTypeHost:
            return attr.devicePointer ? "" : "pinned host memory not mapped for the device";
        default: return "not memory CUDA knows (neither device, managed nor pinned memory)";
    }
}

}  // namespace imggen
