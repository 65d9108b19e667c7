# ep_live: the node runtime in real time (include/epara/exec/live.h), one role of a testbed per
# process; the agent drives it with the wall clock. It reaches into the runtime's internals
# (node/node_internal.h), which only node/, the simulator driver and this library include.
add_library(ep_live STATIC ${CMAKE_CURRENT_LIST_DIR}/live.c)
target_include_directories(ep_live PUBLIC ${CMAKE_SOURCE_DIR}/include
                           PRIVATE ${CMAKE_SOURCE_DIR}/node)
target_link_libraries(ep_live PUBLIC ep_node ep_core PRIVATE ep_warnings)
