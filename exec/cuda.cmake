# ep_cuda: the cuda engine's kernels (cuda_common.cu, cuda_llm.cu, cuda_seg.cu; header
# include/epara/exec/engine_cuda.h) on cuBLAS and the CUDA runtime, and the cuda kind of the engine
# interface in ep_exec. Built only when the top level enabled CUDA (EPARA_CUDA, EP_HAVE_CUDA);
# code that uses it tests `if(TARGET ep_cuda)` in CMake or EPARA_HAVE_CUDA (a PUBLIC
# definition of ep_cuda) in C.
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
# cuBLAS is opened with dlopen on first use (cuda_common.cu), not linked: loading it costs a
# process about 0.1 s and 100 MB, and every process that links ep_exec links this library.
# Its soname is tried first, then the library found here.
target_compile_definitions(ep_cuda PRIVATE EXEC_CUBLAS_PATH="$<TARGET_FILE:CUDA::cublas>")
target_link_libraries(ep_cuda PUBLIC ep_exec PRIVATE CUDA::cudart_static ${CMAKE_DL_LIBS})

# The cuda kind of the engine interface (engine_cuda.c) is part of ep_exec, beside the other
# kinds: engine.c dispatches to it (EP_HAVE_CUDA_ENGINE drops engine.c's NULL stub) and it
# calls the kernels above, which use ep_exec's cpu models. That cycle of static libraries is
# one CMake resolves by repeating them on the link line, so whatever links ep_exec gets the
# cuda engine and the (static) CUDA runtime with it.
target_sources(ep_exec PRIVATE ${CMAKE_CURRENT_LIST_DIR}/engine_cuda.c)
target_compile_definitions(ep_exec PRIVATE EP_HAVE_CUDA_ENGINE)
target_link_libraries(ep_exec PRIVATE ep_cuda)

# bench/cuda_bench.c: GPU throughput of both engines (bench/gpu_check.sh runs it).
add_executable(ep_cuda_bench ${CMAKE_SOURCE_DIR}/bench/cuda_bench.c)
target_link_libraries(ep_cuda_bench PRIVATE ep_cuda ep_warnings)
