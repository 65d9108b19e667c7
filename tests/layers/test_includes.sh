#!/usr/bin/env bash
# The module graph (docs/architecture.md) holds in the sources: every "epara/X.h" a module's
# files include (its .c files, its private headers and the public headers it owns) belongs
# to the module itself or to one it may depend on:
#   core <- traces, policies <- sim (the node runtime and the simulator) <- exec
#   <- experiments <- cli
# Each public header in include/epara/ has one owner below; a header not listed fails the
# test, so a new one must be given its place. With LIBEP_SIM.a, also checks that the node
# runtime and simulator library references no symbol of the executor (its wire protocol,
# nng transport, engines, live roles, agent or testbed).
# Usage: test_includes.sh SOURCE_DIR [LIBEP_SIM.a]
set -u
root=${1:?usage: test_includes.sh SOURCE_DIR [LIBEP_SIM.a]}
lib=${2:-}
cd "$root" || exit 1

declare -A owner=(
    [common]=core [error]=core [time]=core [rng]=core [log]=core [heap]=core [list]=core
    [model]=core [profile]=core
    [trace]=traces [store]=traces
    [policy]=policies [policy_util]=policies
    [sim]=sim [arrivals]=sim [results]=sim [lathist]=sim
    [exec]=exec [live]=exec [msg]=exec [wire]=exec [engine]=exec [engine_cpu]=exec [engine_cuda]=exec [testbed]=exec
    [scenario]=experiments [prepare]=experiments [sweep]=experiments [bound]=experiments
)
declare -A may=(
    [core]="core"
    [traces]="core traces"
    [policies]="core policies"
    [sim]="core traces policies sim"
    [exec]="core traces policies sim exec"
    [experiments]="core traces policies sim exec experiments"
    [cli]="core traces policies sim exec experiments cli"
)

fail=0 checked=0
for h in include/epara/*.h; do
    b=$(basename "$h" .h)
    if [ -z "${owner[$b]:-}" ]; then
        echo "include/epara/$b.h has no owner in $0"
        fail=$((fail + 1))
    fi
done
# check FILE MODULE: every epara/ include of FILE is allowed to MODULE
check() {
    local f=$1 m=$2 inc dep
    # shellcheck disable=SC2013  # header names are single words
    for inc in $(sed -n 's/^#include "epara\/\([a-z_0-9]*\)\.h".*/\1/p' "$f"); do
        dep=${owner[$inc]:-}
        checked=$((checked + 1))
        [ -z "$dep" ] && continue # reported above
        case " ${may[$m]} " in *" $dep "*) continue ;; esac
        echo "$f ($m) includes epara/$inc.h ($dep)"
        fail=$((fail + 1))
    done
}
for m in "${!may[@]}"; do
    for f in "$m"/*.c "$m"/*.h; do
        [ -f "$f" ] && check "$f" "$m"
    done
done
for h in include/epara/*.h; do
    b=$(basename "$h" .h)
    [ -n "${owner[$b]:-}" ] && check "$h" "${owner[$b]}"
done
# The host's internals (sim/sim_internal.h) are the simulator's and the live roles' only.
for f in $(grep -rl --include='*.c' --include='*.h' 'sim_internal\.h"' core traces policies sim exec experiments cli); do
    case $f in sim/* | exec/live.c) ;; *)
        echo "$f includes sim/sim_internal.h (only sim/ and exec/live.c may)"
        fail=$((fail + 1))
        ;;
    esac
done
echo "includes checked: $checked"
if [ -n "$lib" ]; then
    syms=$(nm -u "$lib" | awk '{print $NF}' | sed 's/@.*//' | sort -u)
    if [ -z "$syms" ]; then
        echo "no undefined symbols read from $lib (nm failed?)"
        fail=$((fail + 1))
    fi
    bad=$(printf '%s\n' "$syms" | grep -E '^(nng_|ep_wire_|ep_exec|ep_engine|ep_agent|ep_testbed|ep_live_)' || true)
    for x in $bad; do
        echo "$lib references the executor's $x"
        fail=$((fail + 1))
    done
    echo "library symbols checked: $(printf '%s\n' "$syms" | wc -l)"
fi
if [ "$fail" -gt 0 ]; then
    echo "0 passed, $fail failed"
    exit 1
fi
echo "1 passed, 0 failed"
