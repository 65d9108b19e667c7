# ep_agent: the executor's processes (exec/agent.c, include/epara/exec/exec.h): the node runtime's
# live roles (ep_live) driven by the wall clock, over nng (libnng-dev) with ep_wire frames.
find_package(nng CONFIG REQUIRED)
find_package(Threads REQUIRED)
add_library(ep_agent STATIC ${CMAKE_CURRENT_LIST_DIR}/agent.c ${CMAKE_CURRENT_LIST_DIR}/deploy.c)
target_include_directories(ep_agent PUBLIC ${CMAKE_SOURCE_DIR}/include)
target_link_libraries(ep_agent PUBLIC ep_live ep_wire ep_exec ep_core PRIVATE nng::nng Threads::Threads ${LIBM}
                      ep_warnings)
