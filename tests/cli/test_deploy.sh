#!/usr/bin/env bash
# The testbed's processes started by hand from one deployment file (--deploy), as on a lab's
# machines: the controller, every node and the loadgen each listen on the address and port
# their line names (here ten different loopback addresses, 127.0.0.2 .. 127.0.0.11, one per
# node), find each other through the file alone, and every request gets its record; epara
# testbed --deploy starts them from the same file. Bad deployment files and --deploy beside
# --host exit 2 naming the file and line.
# Usage: test_deploy.sh EPARA [SHARED_DIR]
set -u
EPARA=$1
T=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to read JSON"; exit 77; }
DUR=10
DB=$T/tr.db
head -c 48 /dev/urandom | base64 >"$T/key"
# The traces are prepared once, before the processes open the database; the same run
# says how many nodes the scenario has.
"$EPARA" sim --duration 1 --trace-db "$DB" --json --quiet >"$T/prep.json" 2>"$T/prep.err" ||
    { bad "preparing the traces"; cat "$T/prep.err"; }
nnodes=$(python3 -c "import json,sys; print(len({d['node'] for d in json.load(open(sys.argv[1]))['devices']}))" "$T/prep.json")
# Ports: a block below the ephemeral range (32768 up), where no outgoing connection lands.
base=$((20000 + RANDOM % 10000))
{
    echo "# controller and loadgen on one machine, each node on its own"
    echo "controller 127.0.0.1:$base"
    echo "loadgen 127.0.0.1:$((base + 1))"
    for k in $(seq 0 $((nnodes - 1))); do echo "node $k 127.0.0.$((k + 2)):$((base + 2 + k))"; done
} >"$T/lab.deploy"
common=(--deploy "$T/lab.deploy" --key-file "$T/key" --trace-db "$DB" --duration "$DUR")
epoch=$(($(date +%s) + 4))000000000
"$EPARA" controller "${common[@]}" --epoch "$epoch" --run-for $((DUR + 20)) >"$T/c.log" 2>&1 &
pids+=($!)
for k in $(seq 0 $((nnodes - 1))); do
    "$EPARA" node --node "$k" "${common[@]}" --epoch "$epoch" --run-for $((DUR + 20)) \
        --verbose >"$T/n$k.log" 2>&1 &
    pids+=($!)
done
"$EPARA" loadgen "${common[@]}" --epoch "$epoch" --grace 10 --json >"$T/lg.json" 2>"$T/lg.err"
rc=$?
[ $rc -eq 0 ] && ok || { bad "loadgen exit $rc"; cat "$T/lg.err" "$T"/*.log; }
if [ -s "$T/lg.json" ]; then
    python3 - "$T/lg.json" <<'PY' && ok || bad "loadgen summary"
import json, sys
s = json.load(open(sys.argv[1]))
n = s["completed"] + s["rejected"] + s["dropped"] + s["unfinished"]
assert s["requests"] > 0 and n == s["requests"], (s["requests"], n)
assert s["completed"] > 0.9 * s["requests"], s["completed"]
PY
fi
for p in "${pids[@]}"; do
    wait "$p" || { bad "process $p exit $?"; tail -n 40 "$T"/c.log "$T"/n*.log; }
done
pids=()
# Each node listened where its line says.
for k in $(seq 0 $((nnodes - 1))); do
    grep -q "listening on tcp://127.0.0.$((k + 2)):$((base + 2 + k))$" "$T/n$k.log" && ok ||
        { bad "node $k did not listen on its deployment address"; cat "$T/n$k.log"; }
done

# Mistakes: the file and line named, exit 2, before anything listens.
cp "$T/lab.deploy" "$T/bad.deploy"
echo "node 0 127.0.0.99:$((base + 99))" >>"$T/bad.deploy"
line=$(wc -l <"$T/bad.deploy")
"$EPARA" node --node 0 --deploy "$T/bad.deploy" --key-file "$T/key" --trace-db "$DB" \
    >/dev/null 2>"$T/bad.err"
rc=$?
[ $rc -eq 2 ] && grep -q "bad.deploy:$line: this process is named twice" "$T/bad.err" && ok ||
    { bad "a node named twice: exit $rc"; cat "$T/bad.err"; }
grep -v "^loadgen" "$T/lab.deploy" >"$T/short.deploy"
"$EPARA" controller --deploy "$T/short.deploy" --key-file "$T/key" --trace-db "$DB" \
    >/dev/null 2>"$T/short.err"
rc=$?
[ $rc -eq 2 ] && grep -q "short.deploy: no line for the loadgen" "$T/short.err" && ok ||
    { bad "no loadgen line: exit $rc"; cat "$T/short.err"; }
"$EPARA" loadgen --deploy "$T/lab.deploy" --host 127.0.0.1 --key-file "$T/key" \
    >/dev/null 2>"$T/both.err"
rc=$?
[ $rc -eq 2 ] && grep -q "replaces --host" "$T/both.err" && ok ||
    { bad "--deploy with --host: exit $rc"; cat "$T/both.err"; }
# epara testbed starts the same processes itself from the same file (no namespaces here:
# the loopback addresses are this machine's; tests/cli/test_testbed.sh runs it with --netns).
"$EPARA" testbed --deploy "$T/lab.deploy" --duration 5 --trace-db "$DB" --grace 10 --json \
    --quiet >"$T/tb.json" 2>"$T/tb.err"
rc=$?
[ $rc -eq 0 ] && ok || { bad "testbed --deploy: exit $rc"; cat "$T/tb.err"; }
python3 - "$T/tb.json" <<'PY' && ok || bad "testbed --deploy: no requests, or the file not reported"
import json, sys
j = json.load(open(sys.argv[1]))
assert j['requests'] > 0 and j['slo_attainment'] > 0.9, (j['requests'], j['slo_attainment'])
assert j['testbed']['deploy'].endswith('/lab.deploy'), j['testbed']
PY
"$EPARA" testbed --deploy "$T/lab.deploy" --base-port 7400 >/dev/null 2>"$T/tb2.err"
rc=$?
[ $rc -eq 2 ] && grep -q "replaces --host" "$T/tb2.err" && ok ||
    { bad "testbed --deploy with --base-port: exit $rc"; cat "$T/tb2.err"; }

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
