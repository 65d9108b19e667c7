#!/usr/bin/env bash
# The module graph (docs/architecture.md) holds in the sources: every "epara/MODULE/X.h" a module's
# files include (its .c files, its private headers and the public headers it owns) belongs
# to the module itself or to one it may depend on:
#   core <- traces, policies <- node <- sim, exec <- experiments <- cli
# (node: the node runtime; sim: the simulator driver; exec: the live driver). Each public
# header lives in its owner's folder, include/epara/MODULE/NAME.h; anything else there fails
# the test. The runtime's internals (node/node_internal.h) are included
# by node/, sim/ and exec/live.c only. With the libraries: ep_node references no symbol of
# either driver (the executor's wire protocol, nng transport, engines, live roles, agent or
# testbed; the simulator's loop, transfers, faults or results) and no clock or sleep call
# (the stopwatch around the policy's place() is the driver's, through the port), so its time
# comes from its event queue alone; ep_sim references no symbol of the executor.
# Usage: test_includes.sh SOURCE_DIR [LIBEP_NODE.a LIBEP_SIM.a]
set -u
root=${1:?usage: test_includes.sh SOURCE_DIR [LIBEP_NODE.a LIBEP_SIM.a]}
nodelib=${2:-}
simlib=${3:-}
cd "$root" || exit 1

declare -A may=(
    [core]="core"
    [traces]="core traces"
    [policies]="core policies"
    [node]="core traces policies node"
    [sim]="core traces policies node sim"
    [exec]="core traces policies node exec"
    [experiments]="core traces policies node sim exec experiments"
    [cli]="core traces policies node sim exec experiments cli"
)

fail=0 checked=0
# A public header's owner is its folder: include/epara/MODULE/NAME.h.
for h in include/epara/*; do
    if [ ! -d "$h" ] || [ -z "${may[$(basename "$h")]:-}" ]; then
        echo "$h is not a module's header folder (include/epara/MODULE/NAME.h)"
        fail=$((fail + 1))
    fi
done
# check FILE MODULE: every epara/ include of FILE is allowed to MODULE
check() {
    local f=$1 m=$2 inc dep
    # shellcheck disable=SC2013  # header paths are single words
    for inc in $(sed -n 's/^#include "epara\/\([a-z_0-9/]*\)\.h".*/\1/p' "$f"); do
        checked=$((checked + 1))
        dep=${inc%%/*}
        if [ "$dep" = "$inc" ] || [ ! -f "include/epara/$inc.h" ]; then
            echo "$f includes epara/$inc.h, not a module's public header"
            fail=$((fail + 1))
            continue
        fi
        case " ${may[$m]} " in *" $dep "*) continue ;; esac
        echo "$f ($m) includes epara/$inc.h ($dep)"
        fail=$((fail + 1))
    done
}
for m in "${!may[@]}"; do
    for f in "$m"/*.c "$m"/*.h; do
        [ -f "$f" ] && check "$f" "$m"
    done
    for h in include/epara/"$m"/*.h; do
        [ -f "$h" ] && check "$h" "$m"
    done
done
# The runtime's internals are node/'s and its drivers' only.
for f in $(grep -rl --include='*.c' --include='*.h' 'node_internal\.h"' core traces policies node sim exec experiments cli); do
    case $f in node/* | sim/* | exec/live.c) ;; *)
        echo "$f includes node/node_internal.h (only node/, sim/ and exec/live.c may)"
        fail=$((fail + 1))
        ;;
    esac
done
# The simulator driver includes nothing of the live driver, and the reverse.
for f in $(grep -rlE --include='*.c' --include='*.h' '"(sim_driver|results_internal)\.h"' exec); do
    echo "$f includes a header of sim/"
    fail=$((fail + 1))
done
echo "includes checked: $checked"
# undefined LIB: the symbols LIB uses from elsewhere
undefined() {
    nm -u "$1" | awk '{print $NF}' | sed 's/@.*//' | sort -u
}
# forbid LIB WHAT REGEX: each symbol of LIB matching REGEX is a failure
forbid() {
    local x
    for x in $(printf '%s\n' "$syms" | grep -E "$3" || true); do
        echo "$1 references $2 $x"
        fail=$((fail + 1))
    done
}
exec_syms='^(nng_|ep_wire_|ep_exec|ep_engine|ep_agent|ep_testbed|ep_live_)'
if [ -n "$nodelib" ]; then
    syms=$(undefined "$nodelib")
    if [ -z "$syms" ]; then
        echo "no undefined symbols read from $nodelib (nm failed?)"
        fail=$((fail + 1))
    fi
    forbid "$nodelib" "the executor's" "$exec_syms"
    forbid "$nodelib" "the simulator driver's" \
        '^(ep_sim_run|ep_sim_bench|sim_net_send|sim_transfer_hop|sim_fault|ep_results_|ep_lathist_|ep_sim_summary)'
    forbid "$nodelib" "a clock or sleep:" \
        '^(nanosleep|clock_nanosleep|usleep|sleep|gettimeofday|time|clock|clock_gettime|timerfd_.*|clock_settime|pthread_.*|ep_mono_s)$'
    echo "ep_node symbols checked: $(printf '%s\n' "$syms" | wc -l)"
fi
if [ -n "$simlib" ]; then
    syms=$(undefined "$simlib")
    forbid "$simlib" "the executor's" "$exec_syms"
    echo "ep_sim symbols checked: $(printf '%s\n' "$syms" | wc -l)"
fi
if [ "$fail" -gt 0 ]; then
    echo "0 passed, $fail failed"
    exit 1
fi
echo "1 passed, 0 failed"
