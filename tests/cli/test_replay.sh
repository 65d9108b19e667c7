#!/usr/bin/env bash
# `epara sim --policy-log` and `epara replay`: every policy's calls replay with identical
# decisions, on one policy state per node and the controller's; a log replayed under another
# policy differs (exit 1, the call named); a truncated or foreign file, or another scenario,
# is refused (exit 2).
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
printf 'not a log at all' >"$T/junk.plog"
"$EPARA" replay --log "$T/junk.plog" >/dev/null 2>"$T/e3"
[ $? -eq 2 ] && grep -q "not a policy log" "$T/e3" && ok || { bad "junk accepted"; cat "$T/e3"; }
"$EPARA" replay --log "$T/epara.plog" --slo-scale 2 >/dev/null 2>"$T/e4"
[ $? -eq 2 ] && grep -q "another scenario" "$T/e4" && ok || { bad "other SLOs accepted"; cat "$T/e4"; }
"$EPARA" replay >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "replay without --log: not exit 2"

echo "replay: $pass passed, $fail failed"
[ $fail -eq 0 ]
