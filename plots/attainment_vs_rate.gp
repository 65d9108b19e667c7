# attainment_vs_rate.gp: SLO attainment against offered load, one line per series, with the
# 90% and 99% targets of the max-rate metric (DESIGN.md §6) dashed.
# input:  attainment_vs_rate.csv (columns: rate_scale, then one per series: mean slo_attainment in [0,1] over seeds)
# output: attainment_vs_rate.png, attainment_vs_rate.svg
# Usage: gnuplot -e "data='DIR'; out='DIR'" plots/attainment_vs_rate.gp   (epara plot runs it)
if (!exists("data")) data = "."
if (!exists("out")) out = data
file = data."/attainment_vs_rate.csv"
set datafile separator comma
set datafile columnheaders
stats file using 1 nooutput
ncol = STATS_columns
if (STATS_min == STATS_max) set xrange [STATS_min * 0.5:STATS_max * 1.5]
colors = "#4477aa #ee6677 #228833 #ccbb44 #66ccee #aa3377 #555555 #ee7733 #0077bb #33bbee #ee3377 #cc3311 #009988 #994455 #997700 #000000"
col(i) = word(colors, (i - 2) % 16 + 1)
points = "7 5 9 11 13 4 6 8 10 12 1 2 3"
pt(i) = int(word(points, (i - 2) % 13 + 1))

set title "SLO attainment vs offered load"
set xlabel "rate scale (x the workload's recorded request rate)"
set ylabel "SLO attainment (% of requests in the measured window)"
set grid
set key outside right top vertical box
set yrange [0:105]
set offsets graph 0.02, graph 0.02, graph 0.05, 0

do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 1100,650 font "DejaVu Sans,12" noenhanced
    } else {
        set terminal svg size 1100,650 font "DejaVu Sans,12" noenhanced dynamic background rgb "white"
    }
    set output out."/attainment_vs_rate.".fmt
    plot for [c=2:ncol] file using 1:(100*column(c)) with linespoints lw 2 lc rgb col(c) dt 1 + (c - 2) / 8 pt pt(c) ps 1.2 title columnheader(c), \
         90 with lines dt 2 lc rgb "gray40" title "90% target", \
         99 with lines dt 3 lc rgb "gray40" title "99% target"
    set output
}
