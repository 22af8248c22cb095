// Whether there is a CUDA device to run on, for the bindings (defined in cuda_device.cu, in CUDA
// builds only). Nothing here includes CUDA headers, so the bindings compile with the host
// compiler alone.
#pragma once

#include <string>

namespace imggen {

// cudaGetDeviceCount, with any error (no driver, no device) counted as 0 devices. Never throws.
int cuda_device_count() noexcept;

// Why cuda_device_count() is 0 (the CUDA error string), or "" when there are devices.
std::string cuda_device_error();

// "" when a kernel can read p (device, managed or mapped pinned memory, by CUDA's pointer
// attributes), else why not ("not memory CUDA knows", CUDA's error). Never throws.
std::string cuda_pointer_problem(const void* p);

}  // namespace imggen
