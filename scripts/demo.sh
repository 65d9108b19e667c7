#!/usr/bin/env bash
# The main job, run by `make demo`: builds a trace database from the shared production
# traces when ../shared/traces is present (else from generated stand-ins with their rates,
# burstiness and size quantiles), prints `epara trace info` for each trace, then sweeps every policy and the
# LP bound on the embedded default edge scenario through its knee (rate scales 0.5..16,
# log-spaced), bisects each one's max rate scale at 90% SLO attainment (epara maxrate),
# draws the figures and writes a summary. Output goes to demo-out/ (a few MB:
# each run keeps a latency histogram, not one record per request).
# Environment: EPARA (binary), OUT (output directory), JOBS (sweep workers, default 2),
# DEMO_RATES (the swept rate scales, '|'-separated), DEMO_REF (the reference rate scale of
# the latency CDF, utilization and per-category figures, default 8: the knee),
# DEMO_DURATION (seconds of the workload per run, default 600).
set -euo pipefail
cd "$(dirname "$0")/.."
EPARA=${EPARA:-build/epara}
OUT=${OUT:-demo-out}
JOBS=${JOBS:-2}
RATES=${DEMO_RATES:-0.5|1|2|3|4|6|8|11|16}
REF=${DEMO_REF:-8}
DURATION=${DEMO_DURATION:-600}
T0=$(date +%s)
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
    # The importer lists the first skipped rows on stderr (kept in a file here) and counts
    # them all on stdout; the demo says both in one line.
    imp=$("$EPARA" trace import --db "$DB" --name gentd26 --format alibaba-gentd \
        "$SHARED/alibaba_gentd26_lora_request_trace.csv" 2>"$OUT/gentd26-skipped.txt")
    printf '%s\n' "$imp" | grep -v '^skipped [0-9]* rows' || true
    nskip=$(cat <(printf '%s\n' "$imp") "$OUT/gentd26-skipped.txt" |
        sed -n 's/^skipped \([0-9]*\) rows.*/\1/p' | head -1)
    nlisted=$(grep -c ': skipped:' "$OUT/gentd26-skipped.txt" || true)
    if [ -n "$nskip" ]; then
        echo "   GenTD26: $nskip pending rows (no prompt length yet) skipped; $([ "$nlisted" -lt "$nskip" ] && echo "the first $nlisted" || echo "all $nlisted") listed in $OUT/gentd26-skipped.txt"
    elif [ "$nlisted" -gt 0 ]; then
        echo "   GenTD26: pending rows skipped; $nlisted listed in $OUT/gentd26-skipped.txt"
    fi
else
    echo "== $SHARED not found: generating stand-ins with the production traces' rates, burstiness"
    echo "   and size quantiles (median and p99, clipped at the real maxima; traces/README.md)"
    # Azure code: bursty (CV ~13), 2.57 req/s; conv: near-Poisson, 5.53 req/s; GenTD26: all
    # 23 days at 0.0135 req/s, CV 12. Sizes: lognormals with the real traces' median and p99
    # (p90 where p99 is the maximum), clipped at their maxima (traces/README.md).
    "$EPARA" trace gen --db "$DB" --name azure-code --kind gamma --rate 2.57 --cv 13.2 \
        --duration 3435 --sizes lognormal:7.292,0.985,2.565,1.273,7437,1899 --seed 1
    "$EPARA" trace gen --db "$DB" --name azure-conv --kind gamma --rate 5.53 --cv 1.09 \
        --duration 3502 --sizes lognormal:6.928,0.602,4.860,0.661,14050,1000 --seed 2
    "$EPARA" trace gen --db "$DB" --name gentd26 --kind gamma --rate 0.013471 --cv 12.0 \
        --duration 1989367 --sizes lognormal:3.951,0.680,0.000,1.623,1288,8 --seed 6
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
echo "== epara sweep: every policy and the bound on the embedded default edge scenario"
echo "   (experiments/scenarios/edge-default.yaml; ${DURATION} s of the workload at rate scales"
echo "    ${RATES//|/, }; $JOBS worker processes)"
rm -f "$OUT/results.db" "$OUT/results.db-journal" "$OUT/results.db-wal" "$OUT/results.db-shm"
EP_SHARED_DIR=${EP_SHARED_DIR:-../shared} "$EPARA" sweep --policies all \
    --grid "rate_scale=$RATES" --duration "$DURATION" -j "$JOBS" \
    --trace-db "$OUT/sim-traces.db" --out "$OUT/results.db"
echo
echo "== epara maxrate: each policy's max rate scale at >= 90% SLO attainment (bisection to a"
echo "   2% bracket over the same ${DURATION} s; stored in $OUT/results.db, marked in the figures)"
"$EPARA" sim --list-policies | awk '{ print $1 }' |
    EP_SHARED_DIR=${EP_SHARED_DIR:-../shared} xargs -P "$JOBS" -I{} "$EPARA" maxrate --policy {} \
        --duration "$DURATION" --trace-db "$OUT/sim-traces.db" --out "$OUT/results.db" --quiet
echo
echo "== figures (gnuplot) in $OUT/figures; latency CDF, utilization and per category at x$REF"
rm -rf "$OUT/figures" "$OUT/csv" "$OUT/csv-x1"
"$EPARA" plot --db "$OUT/results.db" --out "$OUT/figures" --rate "$REF"
# The tables of the summary: at the reference rate (figures/) and at the traces' own rate.
"$EPARA" report --db "$OUT/results.db" --csv "$OUT/csv-x1" --rate 1 --quiet
CSV=$OUT/figures
echo
scripts/demo-summary.sh "$CSV" "$OUT/csv-x1" "$DURATION" "$REF" | tee "$OUT/summary.txt"
echo
echo "demo: wrote $DB, per-trace summaries, $OUT/results.db, $OUT/figures/ and $OUT/summary.txt"
echo "demo: $(du -sh "$OUT" | cut -f1) in $OUT, $(($(date +%s) - T0)) s"
