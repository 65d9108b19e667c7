#!/usr/bin/env bash
# End-to-end tests of `epara profile`: the cpu engine on a tiny shape writes the rows the
# simulator reads (prefill, decode with ctx_ref, dnn), a rerun replaces a service's rows,
# `epara sim --trace-db` takes the measured tables (says so, and the run changes), the
# emulated engine sleeps the cost model's estimate, and bad arguments exit 2 with a message.
# `epara profile import --format vidur` writes Vidur's A100 Llama-2-7B table (when SHARED_DIR
# has it) that `epara sim` then reports, takes the attention of a hand-made attention.csv
# when DIR has one, and refuses bad files naming FILE:LINE.
# Usage: test_profile.sh EPARA [SHARED_DIR]
set -u
EPARA=$1
SHARED=${2:-}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

SHAPE=dim=32,hidden=64,layers=1,heads=2,kv_heads=1,vocab=64,seq=128
"$EPARA" profile --engine cpu --service llama-1b --llm-shape $SHAPE --tokens 4,16,64 \
    --batches 1,2,4 --ctx-ref 16 --repeat 3 --threads 1 --out "$T/p.db" >"$T/a.out" 2>"$T/a.err"
rc=$?
[ $rc -eq 0 ] && ok || { bad "profile llm exit $rc"; cat "$T/a.err"; }
grep -q "wrote 6 rows into $T/p.db (service llama-1b, device rtx4090)" "$T/a.out" && ok ||
    { bad "llm summary"; cat "$T/a.out"; }
[ "$(grep -c '^prefill ' "$T/a.out")" = 3 ] && [ "$(grep -c '^decode ' "$T/a.out")" = 3 ] && ok ||
    bad "llm table lacks prefill or decode lines"
# Pinned (--cpus) to the first CPU this process may use.
CPU0=$(python3 -c 'import os; print(min(os.sched_getaffinity(0)))')
"$EPARA" profile --engine cpu --service video-seg --dnn-shape width=4,side=16 --batches 4,1,2,2 \
    --repeat 3 --threads 1 --cpus "$CPU0" --out "$T/p.db" >"$T/b.out" 2>"$T/b.err" && ok ||
    { bad "profile dnn"; cat "$T/b.err"; }
grep -q "wrote 3 rows" "$T/b.out" && ok || bad "dnn: sorted, distinct batches 1,2,4"

if command -v sqlite3 >/dev/null; then
    q() { sqlite3 "$T/p.db" "$1"; }
    [ "$(q "SELECT group_concat(x) FROM (SELECT x FROM profiles WHERE service = 'llama-1b'
            AND device = 'rtx4090' AND kind = 'prefill' ORDER BY x)")" = "4,16,64" ] && ok ||
        bad "prefill rows"
    [ "$(q "SELECT count(*) FROM profiles WHERE kind = 'decode' AND ctx_ref = 16")" = 3 ] && ok ||
        bad "decode rows carry ctx_ref 16"
    [ "$(q "SELECT count(*) FROM profiles WHERE kind = 'prefill' AND ctx_ref IS NOT NULL")" = 0 ] &&
        ok || bad "prefill rows have no ctx_ref"
    [ "$(q "SELECT group_concat(x) FROM (SELECT x FROM profiles WHERE service = 'video-seg'
            AND kind = 'dnn' ORDER BY x)")" = "1,2,4" ] && ok || bad "dnn rows"
    [ "$(q "SELECT count(*) FROM profiles WHERE latency_ns <= 0 OR source NOT LIKE
            'epara profile: cpu %' OR measured_at IS NULL")" = 0 ] && ok || bad "latency/source"
    # Larger batches take longer (medians of real compute; 4 vs 1 is a wide margin).
    [ "$(q "SELECT (SELECT latency_ns FROM profiles WHERE service = 'video-seg' AND x = 4) >
            (SELECT latency_ns FROM profiles WHERE service = 'video-seg' AND x = 1)")" = 1 ] &&
        ok || bad "dnn batch 4 not slower than batch 1"
fi

# A rerun replaces that service's rows on that device and leaves the others.
"$EPARA" profile --engine cpu --service llama-1b --llm-shape $SHAPE --tokens 8 --batches 1 \
    --ctx-ref 8 --repeat 1 --quiet --out "$T/p.db" >"$T/c.out" 2>&1 && ok || bad "rerun"
if command -v sqlite3 >/dev/null; then
    [ "$(sqlite3 "$T/p.db" "SELECT count(*) FROM profiles WHERE service = 'llama-1b'")" = 2 ] &&
        [ "$(sqlite3 "$T/p.db" "SELECT count(*) FROM profiles WHERE service = 'video-seg'")" = 3 ] &&
        ok || bad "rerun did not replace only llama-1b's rows"
fi

# The simulator takes the measured tables from its trace database, says so, and they
# change the run (compared with the same database without them).
cp "$T/p.db" "$T/none.db"
if command -v sqlite3 >/dev/null; then
    sqlite3 "$T/none.db" "DELETE FROM profiles"
    EP_SHARED_DIR=$T/nothing "$EPARA" sim --duration 30 --trace-db "$T/none.db" --json \
        >"$T/none.json" 2>"$T/none.err" && ok || { bad "sim without profiles"; cat "$T/none.err"; }
fi
EP_SHARED_DIR=$T/nothing "$EPARA" sim --duration 30 --trace-db "$T/p.db" --json \
    >"$T/s.json" 2>"$T/s.err"
rc=$?
[ $rc -eq 0 ] && ok || { bad "sim --trace-db exit $rc"; cat "$T/s.err"; }
grep -q "epara: 2 measured profile tables from $T/p.db take precedence" "$T/s.err" && ok ||
    { bad "sim does not report the measured tables"; cat "$T/s.err"; }
if [ -f "$T/none.json" ]; then
    h1=$(grep -o '"event_hash":"[0-9a-f]*"' "$T/none.json")
    h2=$(grep -o '"event_hash":"[0-9a-f]*"' "$T/s.json")
    [ -n "$h1" ] && [ "$h1" != "$h2" ] && ok || bad "measured tables did not change the run"
fi

# emulated: each point sleeps the scenario's estimate (model_ms), so the median is at least
# that and not far above it.
"$EPARA" profile --engine emulated --service video-seg --batches 1,8 --repeat 3 --dry-run \
    >"$T/e.out" 2>"$T/e.err" && ok || { bad "emulated"; cat "$T/e.err"; }
awk '$1 == "dnn" { n++; if ($4 < $7 || $4 > $7 + 50) bad = 1 }
     END { exit !(n == 2 && !bad) }' "$T/e.out" && ok || { bad "emulated medians"; cat "$T/e.out"; }
grep -q "dry run: nothing written" "$T/e.out" && ok || bad "dry run"

# Bad arguments: exit 2 and a message naming the problem.
expect2() {
    local want=$1
    shift
    "$EPARA" profile "$@" --out "$T/bad.db" >/dev/null 2>"$T/x.err"
    local rc=$?
    [ $rc -eq 2 ] && grep -q -- "$want" "$T/x.err" && ok ||
        { bad "profile $* -> exit $rc, want 2 and '$want'"; cat "$T/x.err"; }
}
expect2 "--engine: 'gpu' is not one of emulated, cpu, cuda" --engine gpu --service llama-1b
expect2 "--engine and --service are required" --service llama-1b
expect2 "--service: no service 'nope'" --engine emulated --service nope
expect2 "--device: no device class 'tpu'" --engine emulated --service llama-1b --device tpu
expect2 "--tokens: video-seg is a DNN service" --engine cpu --service video-seg --tokens 8
expect2 "--batches: 0 is out of range" --engine cpu --service video-seg --batches 0,1
expect2 "--cpus: '1-0' is not a list of CPUs" --engine cpu --service video-seg --cpus 1-0
expect2 "--cpus: CPU 1023 is not one this process may run on" --engine cpu --service video-seg \
    --cpus 1023
expect2 "--batches: 'x' is not an integer" --engine cpu --service video-seg --batches 1,x
expect2 "--llm-shape: n_heads must be a multiple of n_kv_heads" --engine cpu --service llama-1b \
    --llm-shape heads=8,kv_heads=3
expect2 "--ctx-ref: 128 must be below the model's max_seq_len 128" --engine cpu \
    --service llama-1b --llm-shape $SHAPE --ctx-ref 128

# Import: a scenario holding Vidur's pair (an A100 class, Llama-2-7B: 32 layers, hidden 4096).
cat >"$T/a100.yaml" <<'YAML'
name: a100-llama2
run: {duration_s: 30, warmup_s: 5, cooldown_s: 5}
devices:
  - {name: a100, kind: gpu, mem_gb: 80, mem_bw_gbps: 2000, peak_tflops: 312}
nodes:
  - {name: server, class: server, cores: 32, mem_gb: 256, devices: [a100],
     link: {bw_gbps: 10, latency_ms: 0.1}}
services:
  - {name: llama2-7b, kind: llm, params_b: 6.74, layers: 32, hidden: 4096, vocab: 32000,
     kv_kb_per_token: 512, max_batch: 64, slo: {ttft_ms: 2000, tpot_ms: 200}}
workload:
  - trace: chat
    service: llama2-7b
    ingress: server
    generate: {kind: poisson, rate: 2, duration_s: 30, seed: 1, sizes: "fixed:512,64"}
YAML
VIDUR=$SHARED/profiles/vidur/a100/meta-llama/Llama-2-7b-hf
if [ -n "$SHARED" ] && [ -f "$VIDUR/mlp.csv" ]; then
    "$EPARA" profile import --format vidur "$VIDUR" --scenario "$T/a100.yaml" \
        --service llama2-7b --device a100 --out "$T/v.db" >"$T/v.out" 2>"$T/v.err"
    rc=$?
    [ $rc -eq 0 ] && ok || { bad "profile import exit $rc"; cat "$T/v.err"; }
    grep -q "wrote 43 rows into $T/v.db (service llama2-7b, device a100: 32 prefill, 11 decode" \
        "$T/v.out" && ok || { bad "import summary"; cat "$T/v.out"; }
    grep -q "attention_ms(model)" "$T/v.out" && ok || bad "import: attention not said modelled"
    # Total = linear + attention + overhead on every line; 1056 tokens: 70.367 ms of kernels.
    awk '$1 == "prefill" || $1 == "decode" { n++; d = $4 + $5 + $6 - $7; if (d > 1e-3 || d < -1e-3) bad = 1 }
         $1 == "prefill" && $2 == 1056 && $4 == "70.3670" { hit = 1 }
         END { exit !(n == 43 && !bad && hit) }' "$T/v.out" && ok ||
        { bad "import table"; cat "$T/v.out"; }
    EP_SHARED_DIR=$T/nothing "$EPARA" sim --scenario "$T/a100.yaml" --trace-db "$T/v.db" \
        >"$T/vs.out" 2>"$T/vs.err"
    rc=$?
    [ $rc -eq 0 ] && grep -q "epara: 1 measured profile tables from $T/v.db take precedence" \
        "$T/vs.err" && ok || { bad "sim after import: exit $rc"; cat "$T/vs.err"; }
else
    echo "skipped: the Vidur import of a real profile ($VIDUR/mlp.csv is absent)"
fi
# A hand-made mlp.csv (every median 0.01 ms: 32 x 9 x 0.01 + 0.01 = 2.89 ms a point) beside an
# attention.csv: the prefill of 8 tokens is its row, 32 x (0.05 + 0.01) = 1.92 ms of attention.
mkdir -p "$T/vatt"
{
    for op in emb input_layernorm attn_pre_proj attn_rope attn_post_proj \
        post_attention_layernorm mlp_up_proj mlp_act mlp_down_proj add; do
        printf 'time_stats.%s.median,' "$op"
    done
    echo 'n_embd,num_tokens,num_tensor_parallel_workers'
    for n in 1 8 100; do
        echo "0.01,0.01,0.01,0.01,0.01,0.01,0.01,0.01,0.01,0.01,4096,$n,1"
    done
} >"$T/vatt/mlp.csv"
ATT_HEAD=n_embd,n_q_head,num_tensor_parallel_workers,batch_size,prefill_chunk_size,kv_cache_size
ATT_HEAD=$ATT_HEAD,is_prefill,time_stats.attn_prefill.median,time_stats.attn_decode.median
ATT_HEAD=$ATT_HEAD,time_stats.attn_kv_cache_save.median
printf '%s\n' "$ATT_HEAD" 4096,32,1,1,8,0,True,0.05,,0.01 4096,32,1,1,128,0,True,0.6,,0.02 \
    4096,32,1,1,0,1024,False,,0.02,0.001 4096,32,1,16,0,1024,False,,0.2,0.002 \
    >"$T/vatt/attention.csv"
"$EPARA" profile import --format vidur "$T/vatt" --scenario "$T/a100.yaml" --service llama2-7b \
    --device a100 --out "$T/va.db" >"$T/va.out" 2>"$T/va.err"
rc=$?
[ $rc -eq 0 ] && ok || { bad "import with attention.csv: exit $rc"; cat "$T/va.err"; }
grep -q "attention_ms(vidur)" "$T/va.out" && grep -q "attention_ms from Vidur's attention.csv" \
    "$T/va.out" && ok || { bad "import: attention not said to be Vidur's"; cat "$T/va.out"; }
awk '$1 == "prefill" && $2 == 8 && $4 == "2.8900" && $5 == "1.9200" { hit = 1 }
     END { exit !hit }' "$T/va.out" && ok || { bad "import: prefill of 8 tokens"; cat "$T/va.out"; }
if command -v sqlite3 >/dev/null; then
    [ "$(sqlite3 "$T/va.db" "SELECT DISTINCT source FROM profiles")" = \
        "vidur mlp.csv + attention.csv + batch_overhead" ] && ok || bad "import: source"
fi
sed -i 's/^4096,32,1,1,0,1024,False/4096,32,1,1,0,1024,yes/' "$T/vatt/attention.csv"
expect2 "$T/vatt/attention.csv:4: is_prefill is \"yes\": expected True or False" import \
    --format vidur "$T/vatt" --scenario "$T/a100.yaml" --service llama2-7b --device a100
mkdir -p "$T/vbad"
printf 'num_tokens,num_tensor_parallel_workers,n_embd\n1,1,4096\n' >"$T/vbad/mlp.csv"
expect2 "$T/vbad/mlp.csv:1: no column 'time_stats.emb.median'" import --format vidur "$T/vbad" \
    --scenario "$T/a100.yaml" --service llama2-7b --device a100
expect2 "--format: 'csv' is not a profile format" import --format csv "$T/vbad" \
    --scenario "$T/a100.yaml" --service llama2-7b --device a100
expect2 "--format, --service, --device and one DIR are required" import --format vidur \
    --scenario "$T/a100.yaml" --service llama2-7b --device a100
expect2 "--device: no device class 'h100'" import --format vidur "$T/vbad" \
    --scenario "$T/a100.yaml" --service llama2-7b --device h100
expect2 "--service: video-seg is a DNN service" import --format vidur "$T/vbad" \
    --service video-seg --device rtx4090
"$EPARA" profile import --help | grep -q 'usage: epara profile import --format vidur' && ok ||
    bad "profile import --help"
"$EPARA" profile --help | grep -q 'epara profile import' && ok ||
    bad "profile --help does not mention import"
if ! "$EPARA" profile --engine cuda --service llama-1b --dry-run --repeat 1 --tokens 4 \
    --batches 1 >/dev/null 2>&1; then
    expect2 "cuda engine not available" --engine cuda --service llama-1b
fi
[ ! -e "$T/bad.db" ] && ok || bad "a refused run created its database"
"$EPARA" profile --help | grep -q 'usage: epara profile' && ok || bad "profile --help"
"$EPARA" --help | grep -q 'profile' && ok || bad "epara --help lists profile"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
