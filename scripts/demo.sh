#!/usr/bin/env bash
# The main job, run by `make demo`: builds a trace database from the shared production
# traces when ../shared/traces is present (else from generated traces with the same
# statistics), prints `epara trace info` for each trace, then simulates the embedded
# default edge scenario and stores the run. Output goes to demo-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
EPARA=${EPARA:-build/epara}
OUT=${OUT:-demo-out}
SHARED=${EP_SHARED_DIR:-../shared}/traces
mkdir -p "$OUT"
DB="$OUT/traces.db"
rm -f "$DB"

if [ -f "$SHARED/AzureLLMInferenceTrace_code.csv" ]; then
    echo "== using the production traces in $SHARED"
    "$EPARA" trace import --db "$DB" --name azure-code --format azure-llm \
        "$SHARED/AzureLLMInferenceTrace_code.csv"
    "$EPARA" trace import --db "$DB" --name azure-conv --format azure-llm \
        "$SHARED/AzureLLMInferenceTrace_conv.csv"
    "$EPARA" trace import --db "$DB" --name gentd26 --format alibaba-gentd \
        "$SHARED/alibaba_gentd26_lora_request_trace.csv" 2>"$OUT/gentd26-skipped.txt"
    echo "   (GenTD26 pending rows skipped: $(grep -c skipped: "$OUT/gentd26-skipped.txt" || true), listed in $OUT/gentd26-skipped.txt)"
else
    echo "== $SHARED not found: generating synthetic traces with the production statistics"
    # Azure code: bursty (CV ~13), 2.57 req/s; conv: near-Poisson, 5.53 req/s; sizes are
    # maximum-likelihood lognormal fits of the real traces (epara trace gen --sizes fit:TRACE).
    "$EPARA" trace gen --db "$DB" --name azure-code --kind gamma --rate 2.57 --cv 13.2 \
        --duration 3435 --sizes lognormal:6.999,1.360,2.788,0.847 --seed 1
    "$EPARA" trace gen --db "$DB" --name azure-conv --kind gamma --rate 5.53 --cv 1.09 \
        --duration 3502 --sizes lognormal:6.633,0.985,5.019,0.859 --seed 2
fi
"$EPARA" trace gen --db "$DB" --name cameras --kind video --cameras 8 --fps 30 \
    --jitter-ms 2 --on-s 120 --off-s 30 --duration 600 --seed 3
"$EPARA" trace merge --db "$DB" --out edge-mix azure-code:llm-code azure-conv:llm-chat \
    cameras:video-seg

echo
"$EPARA" trace list --db "$DB" | tee "$OUT/traces.txt"
for t in $(tail -n +2 "$OUT/traces.txt" | awk '{print $1}'); do
    echo
    echo "== epara trace info --name $t"
    "$EPARA" trace info --db "$DB" --name "$t" | tee "$OUT/info-$t.txt"
    "$EPARA" trace info --db "$DB" --name "$t" --json >"$OUT/info-$t.json"
done
echo
echo "== epara sweep: every policy on the embedded default edge scenario"
echo "   (experiments/scenarios/edge-default.yaml; 600 s of the workload at rate scales"
echo "    0.25, 0.5, 1 and 2, with per-request records; 2 worker processes)"
rm -f "$OUT/results.db"
EP_SHARED_DIR=${EP_SHARED_DIR:-../shared} "$EPARA" sweep --policies all \
    --grid 'rate_scale=0.25|0.5|1|2' --duration 600 --records -j 2 \
    --trace-db "$OUT/sim-traces.db" --out "$OUT/results.db"
echo
echo "== figures (gnuplot) in $OUT/figures"
"$EPARA" plot --db "$OUT/results.db" --out "$OUT/figures"
echo
echo "== summary at rate scale 1 (600 s; goodput = SLO-met requests per second)"
"$EPARA" report --db "$OUT/results.db" --csv "$OUT/csv" >/dev/null
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
         $col["rate_scale"] == 1 {
             printf "%-10s goodput %8.2f req/s   attainment %6.2f%%   p99 latency %s s\n",
                    $col["policy"], $col["goodput_per_s"], 100 * $col["slo_attainment"],
                    ($col["p99_latency_s"] == "" ? "n/a" : $col["p99_latency_s"]) }' \
    "$OUT/csv/runs.csv" | tee "$OUT/summary.txt"
echo
echo "demo: wrote $DB, per-trace summaries, $OUT/results.db, $OUT/figures/ and $OUT/summary.txt"
