# latency_cdf.gp: distribution of end-to-end latency over ALL requests of the measured window
# at the reference rate scale, one curve per series (log axis). A curve stops at the share of
# requests that completed: the rest were rejected, dropped or unfinished; completed requests
# past their SLO are late (each key entry gives the shares completed and met SLO). The bound
# has no per-request latencies.
# input:  latency_cdf.csv (columns: percentile 1..99, then one per series: the latency in s within which that share of all requests completed, blank above the share completed; named "SERIES at xRATE (C% completed; M% met SLO)")
# output: latency_cdf.png, latency_cdf.svg
# Usage: gnuplot -e "data='DIR'; out='DIR'" plots/latency_cdf.gp   (epara plot runs it; it sets ref_rate)
if (!exists("data")) data = "."
if (!exists("out")) out = data
file = data."/latency_cdf.csv"
set datafile separator comma
set datafile columnheaders
stats file using 1 nooutput
ncol = STATS_columns
colors = "#4477aa #ee6677 #228833 #ccbb44 #66ccee #aa3377 #555555 #ee7733 #0077bb #33bbee #ee3377 #cc3311 #009988 #994455 #997700 #000000"
col(i) = word(colors, (i - 2) % 16 + 1)

at = exists("ref_rate") ? sprintf(" at rate scale x%g", ref_rate) : " at the reference rate scale"
set title "Latency CDF of all requests in the measured window".at."\na curve ends at the share that completed; the rest were rejected, dropped or unfinished"
set xlabel "end-to-end latency (s, log scale)"
set ylabel "requests completed within the latency (% of all)"
set logscale x
set format x "%g"
set grid xtics mxtics ytics
set key outside bottom center horizontal maxrows 3 box
set yrange [0:100]

do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 1200,750 font "DejaVu Sans,12" noenhanced
    } else {
        set terminal svg size 1200,750 font "DejaVu Sans,12" noenhanced dynamic background rgb "white"
    }
    set output out."/latency_cdf.".fmt
    plot for [c=2:ncol] file using c:1 with steps lw 2 lc rgb col(c) dt 1 + (c - 2) / 8 title columnheader(c)
    set output
}
