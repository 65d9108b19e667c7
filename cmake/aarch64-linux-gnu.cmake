# Cross build for 64-bit ARM Linux (Jetson AGX Orin, Raspberry Pi 4 and 5) with Debian's
# cross toolchain (crossbuild-essential-arm64) and multiarch libraries (libFOO-dev:arm64),
# as scripts/cross-check arm64 sets it up; tests run under qemu-user. Libraries are found
# in /usr/lib/aarch64-linux-gnu, headers in /usr/include (shared with the host).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# pkg-config: the arm64 .pc files only (EP_CROSS_PKG_DIRS first: the script's own, for a
# -dev package that cannot be installed beside the host's)
set(ENV{PKG_CONFIG_LIBDIR}
    "$ENV{EP_CROSS_PKG_DIRS}:/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/cmake)
set(CMAKE_CROSSCOMPILING_EMULATOR
    qemu-aarch64;-L;/;-E;LD_LIBRARY_PATH=/usr/lib/aarch64-linux-gnu:/lib/aarch64-linux-gnu)
