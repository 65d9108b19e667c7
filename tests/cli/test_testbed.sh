#!/usr/bin/env bash
# End-to-end tests of the live testbed (`epara testbed`, emulated engines, loopback nng):
#  - fidelity: on a short slice of the default scenario, its SLO attainment agrees with
#    `epara sim` (same policy, --seed, --duration) within 2 percentage points overall;
#  - every request the loadgen sent has exactly one record;
#  - the policy call logs of the controller and every node replay through the policy
#    library with identical decisions (`epara replay`);
#  - a node agent killed mid-run: none of its requests is missing (each is recorded, the
#    lost ones as dropped with a reason); the controller killed: serving goes on;
#  - nodes at their request limit (--max-held) reject with that reason;
#  - payload mode with the cpu engine: responses computed on the requests' bytes;
#  - a node whose clock reads 250 ms ahead: its offset is estimated and attainment holds;
#  - with --netns (root): nodes in network namespaces, links shaped by tc carrying the
#    requests' bytes, nothing lost, nothing left behind;
#  - bad arguments (a policy parameter the policy does not declare too) exit 2 with a
#    message.
# Usage: test_testbed.sh EPARA [SHARED_DIR]
set -u
EPARA=$1
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to compare JSON"; exit 77; }
DUR=${EP_TESTBED_DURATION:-20}
DB=$T/tr.db

field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$@"; }

# Fidelity: sim vs testbed, EPARA on the default scenario.
"$EPARA" sim --policy epara --seed 3 --duration "$DUR" --trace-db "$DB" --json --quiet \
    >"$T/sim.json" 2>"$T/sim.err" || { bad "sim failed"; cat "$T/sim.err"; }
"$EPARA" testbed --policy epara --seed 3 --duration "$DUR" --trace-db "$DB" --grace 30 \
    --json --quiet --out "$T/tb.db" --records --keep-logs "$T" --policy-log "$T" \
    >"$T/tb.json" 2>"$T/tb.err"
rc=$?
[ $rc -eq 0 ] && ok || { bad "testbed exit $rc"; cat "$T/tb.err" "$T"/*.log; }
if [ -s "$T/tb.json" ] && [ -s "$T/sim.json" ]; then
    python3 - "$T/sim.json" "$T/tb.json" <<'EOF' && ok || bad "testbed disagrees with sim"
import json, sys
s, t = (json.load(open(p)) for p in sys.argv[1:3])
print(f"sim: {s['requests']} requests, attainment {100*s['slo_attainment']:.2f}%, "
      f"goodput {s['goodput_per_s']:.2f}/s")
print(f"testbed: {t['requests']} requests, attainment {100*t['slo_attainment']:.2f}%, "
      f"goodput {t['goodput_per_s']:.2f}/s, dispatch overhead p50 "
      f"{t['testbed']['overhead_p50_ms']:.2f} ms p99 {t['testbed']['overhead_p99_ms']:.2f} ms")
assert s['requests'] == t['requests'], "different request counts"
d = abs(s['slo_attainment'] - t['slo_attainment']) * 100
assert d <= 2.0, f"attainment differs by {d:.2f} percentage points"
assert t['testbed']['bad_frames'] == 0
# Every process ended on its own, status 0 (under ASan: no leak, no error report).
for name, st in t['testbed']['processes'].items():
    assert st == {'how': 'exited', 'code': 0}, (name, st)
EOF
    [ $fail -eq 0 ] || for f in "$T"/*.log; do # a process that did not end cleanly says why
        [ -s "$f" ] && { echo "== $f (last lines)"; tail -n 15 "$f"; }
    done
    n=$(field "$T/tb.json" requests)
    if command -v sqlite3 >/dev/null; then
        r=$(sqlite3 "$T/tb.db" "SELECT COUNT(*), COUNT(DISTINCT id) FROM records")
        [ "$r" = "$n|$n" ] && ok || bad "records: $r for $n requests"
    fi
fi

# Clocks: node 3's clock reads 250 ms ahead of the others. The nodes estimate their
# offsets to the controller's clock and keep trace time on it: attainment within 1 point of
# the run above, node 3 reporting its 250 ms. Without the estimation (--no-clock-sync) the
# same offset costs more than that (node 3 sees every request arrive 250 ms late).
"$EPARA" testbed --policy epara --seed 3 --duration "$DUR" --trace-db "$DB" --grace 30 \
    --clock-offset node:3=250 --json --quiet >"$T/ck.json" 2>"$T/ck.err"
rc=$?
[ $rc -eq 0 ] && ok || { bad "testbed --clock-offset exit $rc"; cat "$T/ck.err"; }
"$EPARA" testbed --policy epara --seed 3 --duration "$DUR" --trace-db "$DB" --grace 30 \
    --clock-offset node:3=250 --no-clock-sync --json --quiet >"$T/ck0.json" 2>"$T/ck0.err"
rc=$?
[ $rc -eq 0 ] && ok || { bad "testbed --no-clock-sync exit $rc"; cat "$T/ck0.err"; }
if [ -s "$T/tb.json" ] && [ -s "$T/ck.json" ] && [ -s "$T/ck0.json" ]; then
    python3 - "$T/tb.json" "$T/ck.json" "$T/ck0.json" <<'EOF' && ok || bad "clock offset not absorbed"
import json, sys
t, k, k0 = (json.load(open(p)) for p in sys.argv[1:4])
a, ak, ak0 = (100 * j['slo_attainment'] for j in (t, k, k0))
c = k['testbed']['clock']
n3 = [n for n in c['nodes'] if n['node'] == 3]
est = f"{n3[0]['ahead_ms']:.3f} ms +- {n3[0]['uncertainty_ms']:.3f}" if n3 else "none"
print(f"clocks: attainment {a:.2f}%; node 3 250 ms ahead {ak:.2f}% (estimated {est}); "
      f"not estimated {ak0:.2f}%")
assert abs(ak - a) <= 1.0, (a, ak)
assert n3 and abs(n3[0]['ahead_ms'] - 250) < 5 and 0 <= n3[0]['uncertainty_ms'] < 5, n3
assert all(abs(n['ahead_ms']) < 5 for n in c['nodes'] if n['node'] != 3), c['nodes']
assert c['sync'] and not k0['testbed']['clock']['sync']
assert ak0 < a - 1.0, (a, ak0)  # the offset matters: the check above can fail
EOF
fi
"$EPARA" testbed --clock-offset node:99=5 --duration 1 --trace-db "$DB" >/dev/null 2>"$T/e6" &&
    bad "--clock-offset on a node the scenario lacks accepted" || ok
grep -q "clock offset on a node the scenario lacks" "$T/e6" && ok || { bad "no message"; cat "$T/e6"; }
"$EPARA" testbed --clock-offset-ms 5 --duration 1 --trace-db "$DB" >/dev/null 2>"$T/e7" &&
    bad "testbed --clock-offset-ms accepted" || ok

# Decisions of the live processes replay identically through the policy library.
nlogs=0
for f in "$T"/controller.plog "$T"/node-*.plog; do
    [ -s "$f" ] || continue
    nlogs=$((nlogs + 1))
    "$EPARA" replay --log "$f" --quiet 2>"$T/rp.err" && ok ||
        { bad "replay of $(basename "$f")"; cat "$T/rp.err"; }
done
[ $nlogs -ge 2 ] && ok || bad "only $nlogs policy logs written"

# A node agent killed mid-run (node 1: the second GPU server) and then the controller. Not
# node 0: it hosts most instances, and with the controller gone nothing is placed again, so
# whether any late request met its SLO would hang on the workload's draws.
"$EPARA" testbed --policy epara --seed 3 --duration "$DUR" --trace-db "$DB" --grace 10 \
    --kill node:1@5 --kill controller@8 --json --quiet --out "$T/k.db" --records \
    >"$T/k.json" 2>"$T/k.err"
rc=$?
[ $rc -eq 0 ] && ok || { bad "testbed with kills exit $rc"; cat "$T/k.err"; }
if [ -s "$T/k.json" ] && command -v sqlite3 >/dev/null; then
    n=$(field "$T/k.json" requests)
    r=$(sqlite3 "$T/k.db" "SELECT COUNT(*), COUNT(DISTINCT id) FROM records")
    [ "$r" = "$n|$n" ] && ok || bad "kills: records $r for $n requests"
    lost=$(sqlite3 "$T/k.db" "SELECT COUNT(*) FROM records WHERE outcome='dropped' AND
        (reason IS NULL OR reason = '')")
    [ "$lost" = 0 ] && ok || bad "kills: $lost dropped records without a reason"
    # Serving went on after both kills: requests arriving in the last seconds met SLOs.
    late=$(sqlite3 "$T/k.db" "SELECT COUNT(*) FROM records WHERE slo_met = 1 AND
        arrival_ns > ($DUR - 5) * 1000000000")
    [ "${late:-0}" -gt 0 ] && ok || bad "kills: nothing served after the kills"
    python3 - "$T/k.json" <<'EOF' && ok || bad "kills: processes not reported as killed"
import json, sys
t = json.load(open(sys.argv[1]))['testbed']
assert t['processes']['node-1']['how'] == 'killed', t['processes']['node-1']
assert t['processes']['controller']['how'] == 'killed', t['processes']['controller']
EOF
fi

# A sync-message fault: every state message lost from 2 s to 6 s (views go stale, peers
# look silent): still one record per request, and the nodes count what they dropped.
"$EPARA" testbed --policy epara --duration 8 --trace-db "$DB" --grace 5 --sync-loss 2:6 \
    --json --quiet --out "$T/s.db" --records --keep-logs "$T/slogs" >"$T/s.json" 2>"$T/s.err"
rc=$?
[ $rc -eq 0 ] && ok || { bad "testbed --sync-loss exit $rc"; cat "$T/s.err"; }
if [ -s "$T/s.json" ] && command -v sqlite3 >/dev/null; then
    n=$(field "$T/s.json" requests)
    r=$(sqlite3 "$T/s.db" "SELECT COUNT(*), COUNT(DISTINCT id) FROM records")
    [ "$r" = "$n|$n" ] && ok || bad "sync loss: records $r for $n requests"
    grep -q '"sync_loss":{"from_s":2' "$T/s.json" && ok || bad "sync loss not in the JSON"
fi
cat "$T"/slogs/node-*.log 2>/dev/null | grep -q "state messages dropped by --sync-loss" && ok ||
    bad "no node dropped a state message during --sync-loss"

# Overload is shed explicitly: nodes holding at most 3 requests reject the rest, recorded.
"$EPARA" testbed --policy static --duration 8 --trace-db "$DB" --grace 5 --max-held 3 \
    --json --quiet --out "$T/m.db" --records >"$T/m.json" 2>"$T/m.err"
rc=$?
[ $rc -eq 0 ] && ok || { bad "testbed --max-held exit $rc"; cat "$T/m.err"; }
if [ -s "$T/m.json" ] && command -v sqlite3 >/dev/null; then
    n=$(field "$T/m.json" requests)
    r=$(sqlite3 "$T/m.db" "SELECT COUNT(*), COUNT(DISTINCT id) FROM records")
    [ "$r" = "$n|$n" ] && ok || bad "max-held: records $r for $n requests"
    shed=$(sqlite3 "$T/m.db" "SELECT COUNT(*) FROM records WHERE outcome='rejected' AND
        reason='node at its request limit'")
    [ "${shed:-0}" -gt 0 ] && ok || bad "max-held: nothing shed"
fi

# Payload mode with real compute (cpu engine, tiny shapes): every completed request comes
# back with its response's bytes computed by the engine (masks, token ids), and the bytes
# forwarded between the nodes arrive as the ingress made them. The nodes run pinned
# (--cpus: node k on the k-th of this process's first two CPUs, wrapping).
CPUS=$(python3 -c 'import os; print(",".join(map(str, sorted(os.sched_getaffinity(0))[:2])))')
"$EPARA" testbed --engine cpu --threads 1 --scenario "$SRC/experiments/scenarios/cpu-testbed.yaml" \
    --trace-db "$T/cpu.db" --duration 8 --grace 5 --payloads --cpus "$CPUS" \
    --llm-shape dim=64,hidden=128,layers=2,heads=4,kv_heads=2,vocab=128,seq=512 \
    --dnn-shape width=4,side=16 --json --quiet --keep-logs "$T/plogs" >"$T/p.json" 2>"$T/p.err"
rc=$?
[ $rc -eq 0 ] && ok || { bad "testbed --payloads exit $rc"; cat "$T/p.err"; }
if [ -s "$T/p.json" ]; then
    python3 - "$T/p.json" <<'PY' && ok || bad "payloads: results without their response bytes"
import json, sys
j = json.load(open(sys.argv[1]))
p = j['testbed']['payloads']
assert p['on'] and j['completed'] > 0, p
assert p['results_with_output'] == j['completed'], (p, j['completed'])
assert p['output_bytes'] > 0, p
PY
    # Each node: nothing corrupted, and the responses computed by the engine.
    for f in "$T"/plogs/node-*.log; do
        line=$(grep "payloads:" "$f")
        case $line in
        *" 0 not as made"*) ok ;;
        *) bad "payloads: $(basename "$f"): $line" ;;
        esac
        eng=$(echo "$line" | sed -n 's/.*MB, \([0-9]*\) from the engine.*/\1/p')
        [ "${eng:-0}" -gt 0 ] && ok || bad "payloads: $(basename "$f"): no response from the engine"
    done
    # --cpus: node k ran on the k-th CPU of the list, and the JSON says so.
    IFS=, read -ra CPU <<<"$CPUS"
    for k in 0 1; do
        want=${CPU[$((k % ${#CPU[@]}))]}
        grep -q "node $k: ran on CPUs $want\$" "$T/plogs/node-$k.log" && ok ||
            bad "--cpus: node $k did not run on CPU $want: $(grep 'ran on' "$T/plogs/node-$k.log")"
    done
    python3 - "$T/p.json" "$CPUS" <<'PY' && ok || bad "--cpus: testbed.node_cpus in the JSON"
import json, sys
cpus = [int(c) for c in sys.argv[2].split(',')]
j = json.load(open(sys.argv[1]))
assert j['testbed']['node_cpus'] == [cpus[k % len(cpus)] for k in range(2)], j['testbed']
PY
fi

# Network namespaces with tc shaping (root with ip and tc; skipped otherwise).
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && command -v tc >/dev/null; then
    # Node 4's link cut from 3 s to 6 s, then dropping 30% of its packets from 7 s to 9 s
    # (netem or iptables): what it held or was sent is lost or late, never missing.
    "$EPARA" testbed --netns --policy epara --duration 10 --trace-db "$DB" --grace 10 \
        --link-down node:4@3 --link-up node:4@6 \
        --link-loss node:4=0.3@7 --link-loss node:4=0@9 \
        --json --quiet --out "$T/n.db" --records --keep-logs "$T/nlogs" >"$T/n.json" 2>"$T/n.err"
    rc=$?
    [ $rc -eq 0 ] && ok || { bad "testbed --netns exit $rc"; cat "$T/n.err"; }
    if [ -s "$T/n.json" ] && command -v sqlite3 >/dev/null; then
        n=$(field "$T/n.json" requests)
        r=$(sqlite3 "$T/n.db" "SELECT COUNT(*), COUNT(DISTINCT id) FROM records")
        [ "$r" = "$n|$n" ] && ok || bad "netns: records $r for $n requests"
        python3 - "$T/n.json" <<'PY' && ok || bad "netns: links not shaped, or low attainment"
import json, sys
j = json.load(open(sys.argv[1]))
assert j['testbed']['links'].startswith('netns'), j['testbed']['links']
assert 'no loss' not in j['testbed']['links'], j['testbed']['links']
assert all(k['done'] for k in j['testbed']['kills']), j['testbed']['kills']
assert [k['what'] for k in j['testbed']['kills']].count('link-loss') == 2
assert j['slo_attainment'] > 0.6, j['slo_attainment']  # the rest keeps serving
# With --netns requests carry their bytes (payload mode by default), results theirs.
assert j['testbed']['payloads']['on'], j['testbed']['payloads']
assert j['testbed']['payloads']['results_with_output'] == j['completed']
PY
        sent=$(cat "$T"/nlogs/node-*.log | sed -n 's/.*payloads: \([0-9]*\) sent.*/\1/p' |
            awk '{s += $1} END {print s + 0}')
        [ "$sent" -gt 0 ] && ok || bad "netns: no request sent on with its bytes"
        grep -h "payloads:" "$T"/nlogs/node-*.log | grep -qv " 0 not as made" &&
            bad "netns: payload bytes not as made" || ok
    fi
    id=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['testbed'].get('netns','none'))" "$T/n.json" 2>/dev/null)
    left=$(ip netns list | grep -c "^${id:-none}n" || true)
    [ "$left" = 0 ] && ok || bad "netns: $left namespaces left behind"
    # A lab's addresses from a deployment file (documentation ranges, RFC 5737): each node's
    # namespace takes the address its line names, the bridge the controller's and the
    # loadgen's; every node listens there and every request is recorded.
    NNODES=$(python3 -c "import json,sys; print(len({d['node'] for d in json.load(open(sys.argv[1]))['devices']}))" "$T/sim.json")
    { echo "controller 192.0.2.1:7400"; echo "loadgen 192.0.2.2:7401"
      for k in $(seq 0 $((NNODES - 1))); do echo "node $k 198.51.100.$((20 + 3 * k)):$((7600 + k))"; done
    } >"$T/lab.deploy"
    mkdir -p "$T/dl"
    "$EPARA" testbed --netns --deploy "$T/lab.deploy" --policy epara --duration 6 --trace-db "$DB" \
        --grace 10 --json --quiet --verbose --keep-logs "$T/dl" --out "$T/d.db" --records \
        >"$T/d.json" 2>"$T/d.err"
    rc=$?
    [ $rc -eq 0 ] && ok || { bad "testbed --netns --deploy exit $rc"; cat "$T/d.err"; }
    for k in $(seq 0 $((NNODES - 1))); do
        grep -q "listening on tcp://198.51.100.$((20 + 3 * k)):$((7600 + k))$" "$T/dl/node-$k.log" ||
            { bad "netns deploy: node $k not at its line's address"; break; }
    done
    grep -q "listening on tcp://192.0.2.1:7400$" "$T/dl/controller.log" && ok ||
        bad "netns deploy: the controller not at its address"
    if [ -s "$T/d.json" ] && command -v sqlite3 >/dev/null; then
        n=$(field "$T/d.json" requests)
        r=$(sqlite3 "$T/d.db" "SELECT COUNT(*), COUNT(DISTINCT id) FROM records")
        [ "$r" = "$n|$n" ] && [ "$n" -gt 0 ] && ok || bad "netns deploy: records $r for $n requests"
    fi
    # Two nodes at one address cannot each have a namespace: refused, with file and line.
    sed "s/^node 1 .*/node 1 198.51.100.20:7611/" "$T/lab.deploy" >"$T/same.deploy"
    "$EPARA" testbed --netns --deploy "$T/same.deploy" --duration 1 --trace-db "$DB" \
        >/dev/null 2>"$T/e5" && bad "netns: a shared node address accepted" || ok
    grep -q "same.deploy:4: node .* has the address of" "$T/e5" && ok ||
        { bad "no file:line message for a shared node address"; cat "$T/e5"; }
    id=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['testbed'].get('netns','none'))" "$T/d.json" 2>/dev/null)
    left=$(ip netns list | grep -c "^${id:-none}n" || true)
    [ "$left" = 0 ] && ok || bad "netns deploy: $left namespaces left behind"
else
    echo "netns part skipped: needs root, ip and tc"
fi

# Bad arguments.
"$EPARA" testbed --kill node:x@3 >/dev/null 2>"$T/e1" && bad "bad --kill accepted" || ok
"$EPARA" testbed --link-down node:1@3 --duration 1 --trace-db "$DB" >/dev/null 2>"$T/e0" &&
    bad "--link-down without --netns accepted" || ok
grep -q "only with --netns" "$T/e0" && ok || bad "no message for --link-down without --netns"
grep -q -- "--kill" "$T/e1" && ok || bad "no message for a bad --kill"
"$EPARA" testbed --link-loss node:1@3 --duration 1 >/dev/null 2>"$T/e3" &&
    bad "--link-loss without a probability accepted" || ok
grep -q "node:K=PROBABILITY" "$T/e3" && ok || bad "no message for a bad --link-loss"
"$EPARA" node --key-file /nonexistent --node 0 >/dev/null 2>"$T/e2"
[ $? -eq 2 ] && ok || bad "node with a missing key file: not exit 2"
printf 'short' >"$T/short.key"
"$EPARA" loadgen --key-file "$T/short.key" >/dev/null 2>"$T/e3"
[ $? -eq 2 ] && grep -q "at least 16" "$T/e3" && ok || bad "short key not refused"
# A policy parameter the policy does not declare: refused before any process starts.
printf '0123456789abcdef0123' >"$T/good.key"
for role in testbed controller "node --node 0" loadgen; do
    # shellcheck disable=SC2086
    timeout 60 "$EPARA" $role --key-file "$T/good.key" --policy epara --param forwad=1 \
        --trace-db "$T/pdb.db" >/dev/null 2>"$T/e4"
    rc=$?
    [ $rc -eq 2 ] && grep -q "unknown policy parameter 'forwad' for policy epara (accepted: " "$T/e4" &&
        ok || { bad "$role --param forwad=1: exit $rc"; cat "$T/e4"; }
done
[ ! -e "$T/pdb.db" ] && ok || bad "a refused parameter still prepared the trace database"

echo "testbed: $pass passed, $fail failed"
[ $fail -eq 0 ]
