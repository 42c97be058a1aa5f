// Portability macros for the element physics headers, which are compiled both by the host
// compiler (CPU kernels, GoogleTest) and by nvcc (CUDA kernels).
#pragma once

#if defined(__CUDACC__) || defined(__HIPCC__)
#define ANALOGTORCH_HD __host__ __device__ __forceinline__
#else
#define ANALOGTORCH_HD inline
#endif
