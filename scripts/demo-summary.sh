#!/usr/bin/env bash
# The summary `make demo` prints and keeps in demo-out/summary.txt, from the CSV files of
# `epara report` (formats: epara report --help): each policy's max rate scale at >= 90% SLO
# attainment, the headline metrics at rate scale 1 and at the reference rate, SLO attainment
# per task category and per service at both, and the devices no policy uses, with why.
# Usage: scripts/demo-summary.sh REF_CSV_DIR X1_CSV_DIR DURATION_S REF_RATE
#   REF_CSV_DIR: epara report --rate REF_RATE output; X1_CSV_DIR: epara report --rate 1
set -euo pipefail
REFDIR=$1 X1DIR=$2 DURATION=$3 REF=$4

# A latency in seconds as milliseconds or seconds with 3 significant digits; n/a when empty.
AWK_FMT='function lat(v) { if (v == "") return "n/a"; v += 0; return v < 1 ? sprintf("%.3g ms", 1000 * v) : sprintf("%.3g s", v) }
function pct(v) { return v == "" ? "-" : sprintf("%.1f%%", 100 * v) }'

echo "epara demo: every policy and the LP bound on the embedded default edge scenario,"
echo "${DURATION} s of the workload per run (seed 1). Goodput: requests meeting their SLO per s;"
echo "attainment: their share of all requests in the measured window."

echo
echo "Max rate scale at >= 90% SLO attainment (overall; figures/attainment_vs_rate.png):"
awk -F, 'NR == 1 { next }
    {
        s = $1; m = $2; lo = $3; hi = $4; how = $6
        if (m == "") txt = "below the smallest swept scale"
        else if (how == "maxrate") txt = sprintf("x%.3g (epara maxrate: met at x%.4g, missed at x%.4g)", m, lo, hi)
        else if (hi == "") txt = sprintf(">= x%.3g (met at every swept scale)", m)
        else txt = sprintf("~x%.3g (interpolated: met at x%g, missed at x%g)", m, lo, hi)
        printf "  %-12s %s\n", s, txt
        if (s != "epara" && s != "bound" && m != "" && m + 0 > best) { best = m + 0; bname = s; bopen = how != "maxrate" && hi == "" }
        if (s == "epara") { ep = m + 0; epopen = how != "maxrate" && hi == "" }
    }
    END {
        if (ep > 0 && best > 0)
            printf "  epara / best baseline (%s): %s%.2fx\n", bname, (epopen && !bopen) ? ">= " : "", ep / best
    }' "$REFDIR/max_rate.csv"

# The headline table at one rate scale, from runs.csv (seeds pooled by mean), series in the
# report's order (that of max_rate.csv).
headline() {
    local dir=$1 rate=$2 what=$3
    echo
    echo "At rate scale $rate ($what):"
    awk -F, -v rate="$rate" "$AWK_FMT"'
        FNR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        FILENAME ~ /max_rate.csv$/ { order[++np] = $1; next }
        $c["rate_scale"] + 0 == rate + 0 {
            p = $c["series"]
            n[p]++; g[p] += $c["goodput_per_s"]; a[p] += $c["slo_attainment"]
            req[p] += $c["requests"]; done[p] += $c["completed"]
            p50[p] = $c["p50_latency_s"]; p99[p] = $c["p99_latency_s"]
        }
        END {
            printf "  %-12s %12s %11s %10s %12s %12s\n", "policy", "goodput/s", "attainment", "completed", "p50 latency", "p99 latency"
            for (i = 1; i <= np; i++) {
                p = order[i]
                if (!(p in n)) continue
                printf "  %-12s %12.1f %11s %10s %12s %12s\n", p, g[p] / n[p], pct(a[p] / n[p]),
                    req[p] ? pct(done[p] / req[p]) : "-", lat(p50[p]), lat(p99[p])
            }
        }' "$dir/max_rate.csv" "$dir/runs.csv"
}
headline "$X1DIR" 1 "the traces' own request rate"
headline "$REFDIR" "$REF" "the reference rate of the latency CDF, utilization and per-category figures"
echo "  Latencies: end-to-end, of the requests that completed (p50, p99 over the window); n/a:"
echo "  the bound is a fluid LP with no per-request latencies. completed: share of all requests"
echo "  that finished (the rest were rejected, dropped or unfinished), SLO met or not."

# A wide attainment table (label, then one column per series) as percentages.
table() {
    awk -F, "$AWK_FMT"'
        NR == 1 { printf "  %-34s", $1; for (i = 2; i <= NF; i++) printf " %10s", $i; printf "\n"; next }
        { printf "  %-34s", $1; for (i = 2; i <= NF; i++) printf " %10s", pct($i); printf "\n" }' "$1"
}
for pair in "$X1DIR:1" "$REFDIR:$REF"; do
    dir=${pair%:*} rate=${pair##*:}
    echo
    echo "SLO attainment per task category at rate scale $rate (EPARA's categories; share of requests):"
    table "$dir/per_category.csv"
    echo
    echo "SLO attainment per service at rate scale $rate:"
    table "$dir/per_service.csv"
done

if [ "$(wc -l <"$REFDIR/idle_devices.csv")" -gt 1 ]; then
    echo
    echo "Devices no policy uses at rate scale $REF (0% in figures/utilization.png), and why:"
    # Rows are device,spec,reason (the reason quoted); devices with one reason on one line.
    awk 'NR > 1 {
            dev = $0; sub(/,.*/, "", dev)
            why = $0; sub(/^[^,]*,[^,]*,/, "", why); gsub(/"/, "", why)
            if (!(why in devs)) { order[++n] = why; devs[why] = dev } else devs[why] = devs[why] ", " dev
        }
        END { for (i = 1; i <= n; i++) printf "  %s: %s\n", devs[order[i]], order[i] }' \
        "$REFDIR/idle_devices.csv"
fi
