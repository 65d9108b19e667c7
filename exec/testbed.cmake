# ep_testbed: a live testbed on one machine (exec/testbed.c, include/epara/exec/testbed.h): the
# executor's processes started, supervised and stopped, faults injected, network namespaces
# with tc shaping (exec/netns.c), the testbed object of the summary (jansson). `epara
# testbed` parses and prints around it. Included from exec/CMakeLists.txt.
add_library(ep_testbed STATIC ${CMAKE_CURRENT_LIST_DIR}/testbed.c ${CMAKE_CURRENT_LIST_DIR}/netns.c)
target_include_directories(ep_testbed PUBLIC ${CMAKE_SOURCE_DIR}/include)
target_link_libraries(ep_testbed PUBLIC ep_agent ep_core PRIVATE PkgConfig::JANSSON ${LIBM}
                      ep_warnings)
