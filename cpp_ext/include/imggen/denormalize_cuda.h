// CUDA denormalize: one kernel over device arrays (math in imggen/denormalize.h).
// Only compiled when the build has CUDA (IMGGEN_WITH_CUDA); nothing here includes CUDA
// headers, so the nanobind side compiles with the host compiler alone.
#pragma once

#include <cstdint>
#include <string>

#include "imggen/denormalize.h"

namespace imggen {

// Enqueues job on stream (a cudaStream_t as an integer, 0 = the default stream) on device
// `device` (-1: the current device) and returns without waiting. job.src and job.dst are
// device pointers. Throws std::runtime_error with cudaGetErrorString's text if the launch
// fails.
void denormalize_cuda(const DenormJob& job, int device, std::uintptr_t stream);

// cudaGetDeviceCount, with any error (no driver, no device) counted as 0 devices. Never throws.
int cuda_device_count() noexcept;

// Why cuda_device_count() is 0 (the CUDA error string), or "" when there are devices.
std::string cuda_device_error();

}  // namespace imggen
