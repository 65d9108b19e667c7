# ep_cuda: the cuda engine's kernels (cuda_common.cu, cuda_llm.cu, cuda_seg.cu; header
# include/epara/engine_cuda.h) on cuBLAS and the CUDA runtime. Built only when the top level
# enabled CUDA (EPARA_CUDA, EP_HAVE_CUDA); code that uses it tests `if(TARGET ep_cuda)` in
# CMake or EPARA_HAVE_CUDA (a PUBLIC definition of ep_cuda) in C.
if(NOT EP_HAVE_CUDA)
    return()
endif()

add_library(ep_cuda STATIC
    ${CMAKE_CURRENT_LIST_DIR}/cuda_common.cu
    ${CMAKE_CURRENT_LIST_DIR}/cuda_llm.cu
    ${CMAKE_CURRENT_LIST_DIR}/cuda_seg.cu)
target_include_directories(ep_cuda PUBLIC ${CMAKE_SOURCE_DIR}/include)
target_compile_definitions(ep_cuda PUBLIC EPARA_HAVE_CUDA=1)
target_compile_features(ep_cuda PRIVATE cuda_std_17)
# nvcc's own warnings and the host compiler's; the C-only set of ep_warnings does not apply.
target_compile_options(ep_cuda PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-Wshadow>
    $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<BOOL:${EP_WERROR}>>:-Werror=all-warnings>)
target_link_libraries(ep_cuda PUBLIC ep_exec PRIVATE CUDA::cudart_static CUDA::cublas)

# bench/cuda_bench.c: GPU throughput of both engines (bench/gpu_check.sh runs it).
add_executable(ep_cuda_bench ${CMAKE_SOURCE_DIR}/bench/cuda_bench.c)
target_link_libraries(ep_cuda_bench PRIVATE ep_cuda ep_warnings)
