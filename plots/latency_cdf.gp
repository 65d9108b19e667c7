# latency_cdf.gp: distribution of end-to-end latency of completed requests in the measured
# window at the reference rate scale, one curve per series with stored records, log axis.
# input:  latency_cdf.csv (columns: percentile 1..99, then one per series: latency in s at that percentile)
# output: latency_cdf.png, latency_cdf.svg
# Usage: gnuplot -e "data='DIR'; out='DIR'" plots/latency_cdf.gp   (epara plot runs it)
if (!exists("data")) data = "."
if (!exists("out")) out = data
file = data."/latency_cdf.csv"
set datafile separator comma
set datafile columnheaders
stats file using 1 nooutput
ncol = STATS_columns
colors = "#4477aa #ee6677 #228833 #ccbb44 #66ccee #aa3377 #555555 #ee7733 #0077bb #33bbee #ee3377 #cc3311 #009988 #994455 #997700 #000000"
col(i) = word(colors, (i - 2) % 16 + 1)

set title "Latency CDF at the reference rate scale (completed requests, measured window)"
set xlabel "end-to-end latency (s, log scale)"
set ylabel "requests completed within the latency (%)"
set logscale x
set format x "%g"
set grid xtics mxtics ytics
set key outside right top vertical box
set yrange [0:100]

do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 1100,650 font "DejaVu Sans,12" noenhanced
    } else {
        set terminal svg size 1100,650 font "DejaVu Sans,12" noenhanced dynamic background rgb "white"
    }
    set output out."/latency_cdf.".fmt
    plot for [c=2:ncol] file using c:1 with steps lw 2 lc rgb col(c) dt 1 + (c - 2) / 8 title columnheader(c)
    set output
}
