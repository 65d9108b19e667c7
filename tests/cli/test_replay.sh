#!/usr/bin/env bash
# `epara sim --policy-log` and `epara replay`: every policy's calls replay with identical
# decisions, on one policy state per node and the controller's; a log replayed under another
# policy differs (exit 1, the call named); a truncated or foreign file, another scenario, or
# a log whose values lie outside the scenario (an instance's device, a request's service) is
# refused (exit 2, the call named), never a crash.
# Usage: test_replay.sh EPARA [SHARED_DIR]
set -u
EPARA=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

for p in epara alpaserve adainf offload static; do
    "$EPARA" sim --policy "$p" --duration 30 --trace-db "$T/tr.db" --policy-log "$T/$p.plog" \
        --quiet >/dev/null 2>"$T/err" || { bad "sim $p failed"; cat "$T/err"; continue; }
    "$EPARA" replay --log "$T/$p.plog" >"$T/out" 2>&1 && ok || { bad "replay $p"; cat "$T/out"; }
    grep -q "every decision identical" "$T/out" && ok || bad "replay $p: no summary"
    # The simulator's log holds every node's state and the controller's, each replayed apart.
    grep -Eq "on ([2-9]|[1-9][0-9]+) policy states" "$T/out" && ok || bad "replay $p: one policy state"
done
# EPARA ablations replay too (parameters travel in the log).
"$EPARA" sim --policy epara --param forward=0 --param edf=0 --duration 30 --trace-db "$T/tr.db" \
    --policy-log "$T/abl.plog" --quiet >/dev/null 2>&1
"$EPARA" replay --log "$T/abl.plog" >/dev/null 2>&1 && ok || bad "replay of an ablation"

if command -v python3 >/dev/null; then
    # The same calls under another policy (the header's name patched) must differ.
    python3 - "$T/epara.plog" "$T/other.plog" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
i = b.index(b'epara\0')
b[i:i + 7] = b'static\0'
open(sys.argv[2], 'wb').write(b)
PY
    "$EPARA" replay --log "$T/other.plog" >/dev/null 2>"$T/e1"
    [ $? -eq 1 ] && grep -q "call" "$T/e1" && ok || { bad "a different policy replayed"; cat "$T/e1"; }
    # Truncated.
    head -c 5000 "$T/epara.plog" >"$T/trunc.plog"
    "$EPARA" replay --log "$T/trunc.plog" >/dev/null 2>"$T/e2"
    [ $? -eq 2 ] && grep -q "truncated" "$T/e2" && ok || { bad "truncated log"; cat "$T/e2"; }
fi
# A log with one byte set to 0x7f: the top byte of a value a policy indexes with, in the
# first route call (call 90: its view's instance 2's first device; its request's service),
# which puts it far past the scenario's devices or services. Replayed unchecked, the policy
# read out of bounds (segfault); it must be refused as a bad log naming the call. The offsets
# hold for the default scenario with generated traces (EP_SHARED_DIR pointed at nothing, so
# the log does not depend on the shared traces being found).
EP_SHARED_DIR="$T/none" "$EPARA" sim --policy epara --duration 30 --trace-db "$T/gen.db" \
    --policy-log "$T/gen.plog" --quiet >/dev/null 2>&1 || bad "sim epara with generated traces"
for c in "38599:instance [0-9]+ names device" "39919:request [0-9]+ names service"; do
    off=${c%%:*}
    want=${c#*:}
    cp "$T/gen.plog" "$T/bad.plog" &&
        printf '\177' | dd of="$T/bad.plog" bs=1 seek="$off" conv=notrunc status=none
    "$EPARA" replay --log "$T/bad.plog" >/dev/null 2>"$T/e5"
    rc=$?
    [ $rc -eq 2 ] && grep -Eq "bad.plog: call [0-9]+: $want" "$T/e5" && ok ||
        { bad "log corrupted at byte $off: exit $rc, not 2 with '$want'"; cat "$T/e5"; }
done
printf 'not a log at all' >"$T/junk.plog"
"$EPARA" replay --log "$T/junk.plog" >/dev/null 2>"$T/e3"
[ $? -eq 2 ] && grep -q "not a policy log" "$T/e3" && ok || { bad "junk accepted"; cat "$T/e3"; }
"$EPARA" replay --log "$T/epara.plog" --slo-scale 2 >/dev/null 2>"$T/e4"
[ $? -eq 2 ] && grep -q "another scenario" "$T/e4" && ok || { bad "other SLOs accepted"; cat "$T/e4"; }
"$EPARA" replay >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "replay without --log: not exit 2"

echo "replay: $pass passed, $fail failed"
[ $fail -eq 0 ]
