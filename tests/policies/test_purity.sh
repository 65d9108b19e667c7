#!/usr/bin/env bash
# The policies library must be pure (docs/architecture.md): no clock, no rand(), no sockets, no
# file or terminal I/O. Lists its undefined symbols and fails on any forbidden one.
# Usage: test_purity.sh LIBEP_POLICIES.a
set -u
lib=$1
forbidden='^(time|clock|clock_gettime|gettimeofday|ftime|rand|random|srand|srandom|drand48|lrand48|rand_r|arc4random|getrandom|socket|connect|bind|listen|accept|send|sendto|recv|recvfrom|select|poll|epoll_.*|open|openat|fopen|fdopen|freopen|read|write|pread|pwrite|close|fclose|fread|fwrite|fprintf|printf|vprintf|vfprintf|puts|fputs|fputc|putchar|getchar|fgets|scanf|fscanf|mmap|nanosleep|sleep|usleep|system|fork|exec.*|pthread_.*|sqlite3_.*|nng_.*|ep_log.*|getenv|exit|_exit|abort)$'
syms=$(nm -u "$lib" | awk '{print $NF}' | sed 's/@.*//' | sort -u)
if [ -z "$syms" ]; then
    echo "no undefined symbols read from $lib (nm failed?)"
    exit 1
fi
bad=$(printf '%s\n' "$syms" | grep -E "$forbidden" || true)
if [ -n "$bad" ]; then
    echo "policies library references forbidden symbols:"
    printf '  %s\n' $bad
    echo "1 passed, 1 failed"
    exit 1
fi
echo "undefined symbols checked: $(printf '%s\n' "$syms" | wc -l), none forbidden"
echo "1 passed, 0 failed"
