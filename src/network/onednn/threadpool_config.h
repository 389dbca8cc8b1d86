// Configuration of the oneDNN headers for the library bundled with MindSpore: a CPU-only build whose
// threading runtime is a user-supplied thread pool (dnnl_version()->cpu_runtime == DNNL_RUNTIME_THREADPOOL).
//
// The onednn-devel package ships the dnnl_config.h of another build (SYCL/TBB). Defining its include
// guard first and the macros it would define here makes dnnl.hpp describe the bundled library instead.
#ifndef POSE_ONEDNN_THREADPOOL_CONFIG_H
#define POSE_ONEDNN_THREADPOOL_CONFIG_H

#define ONEAPI_DNNL_DNNL_CONFIG_H

#define DNNL_HELPER_DLL_IMPORT __attribute__((visibility("default")))
#define DNNL_HELPER_DLL_EXPORT __attribute__((visibility("default")))
#define DNNL_API
#define DNNL_DEPRECATED __attribute__((deprecated))

#define DNNL_RUNTIME_NONE 0u
#define DNNL_RUNTIME_SEQ 1u
#define DNNL_RUNTIME_OMP 2u
#define DNNL_RUNTIME_TBB 4u
#define DNNL_RUNTIME_THREADPOOL 8u
#define DNNL_RUNTIME_OCL 256u
#define DNNL_RUNTIME_SYCL 512u
#define DNNL_RUNTIME_DPCPP DNNL_RUNTIME_SYCL
#define DNNL_RUNTIME_ZE 1024u

#define DNNL_VENDOR_NONE 0u
#define DNNL_VENDOR_INTEL 1u
#define DNNL_VENDOR_NVIDIA 2u
#define DNNL_VENDOR_AMD 4u
#define DNNL_VENDOR_GENERIC 8u

#define DNNL_CPU_THREADING_RUNTIME DNNL_RUNTIME_THREADPOOL
#define DNNL_CPU_RUNTIME DNNL_RUNTIME_THREADPOOL
#define DNNL_GPU_RUNTIME DNNL_RUNTIME_NONE
#define DNNL_GPU_VENDOR DNNL_VENDOR_NONE

#define DNNL_EXPERIMENTAL_GROUPED_MEMORY 0

#endif  // POSE_ONEDNN_THREADPOOL_CONFIG_H
