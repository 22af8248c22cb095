// CPU denormalize: OpenMP over the N*H output rows, a SIMD-cloned loop over each row.
#pragma once

#include "imggen/denormalize.h"

namespace imggen {

// Runs job on the calling thread plus the OpenMP team; the caller has validated it.
void denormalize_cpu(const DenormJob& job);

// Threads an OpenMP parallel region would use now (1 when built without OpenMP).
int openmp_threads();

}  // namespace imggen
