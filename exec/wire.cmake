# ep_wire: the executor's wire protocol (exec/wire.c, include/epara/exec/wire.h): msgpack
# payloads (msgpack-c) in length-checked frames authenticated with HMAC-SHA256 (libsodium).
# Included from exec/CMakeLists.txt; links core/ only besides the two libraries.
pkg_search_module(MSGPACK REQUIRED IMPORTED_TARGET msgpack-c msgpack)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
add_library(ep_wire STATIC ${CMAKE_CURRENT_LIST_DIR}/wire.c)
target_include_directories(ep_wire PUBLIC ${CMAKE_SOURCE_DIR}/include)
target_link_libraries(ep_wire PUBLIC ep_core PRIVATE PkgConfig::MSGPACK PkgConfig::SODIUM
                      ep_warnings)
