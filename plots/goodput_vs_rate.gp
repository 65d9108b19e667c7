# goodput_vs_rate.gp: goodput against offered load (log axis), one line per series (policy +
# parameters), each series' max rate scale at >= 90% attainment circled on its line
# (epara maxrate's bisection when the database holds one, else interpolated between the
# swept scales around the crossing; max_rate.csv).
# input:  goodput_vs_rate.csv (columns: rate_scale, then one per series: mean goodput_per_s over seeds), max_rate.csv (series,max_rate,last_met,first_missed,goodput_at_max,method; one row per series, in column order)
# output: goodput_vs_rate.png, goodput_vs_rate.svg
# Usage: gnuplot -e "data='DIR'; out='DIR'" plots/goodput_vs_rate.gp   (epara plot runs it)
if (!exists("data")) data = "."
if (!exists("out")) out = data
file = data."/goodput_vs_rate.csv"
mfile = data."/max_rate.csv"
set datafile separator comma
set datafile columnheaders
stats file using 1 nooutput
ncol = STATS_columns
if (STATS_min == STATS_max) set xrange [STATS_min * 0.5:STATS_max * 1.5]
colors = "#4477aa #ee6677 #228833 #ccbb44 #66ccee #aa3377 #555555 #ee7733 #0077bb #33bbee #ee3377 #cc3311 #009988 #994455 #997700 #000000"
col(i) = word(colors, (i - 2) % 16 + 1)
points = "7 5 9 11 13 4 6 8 10 12 1 2 3"
pt(i) = int(word(points, (i - 2) % 13 + 1))

set title "Goodput vs offered load; circles: each series' max rate scale at >= 90% SLO attainment"
set xlabel "rate scale (x the workload's recorded request rate, log scale)"
set ylabel "goodput (requests meeting their SLO per s)"
set logscale x 2
set format x "%g"
set grid
set key outside right top vertical box
set yrange [0:*]
set offsets graph 0.02, graph 0.02, graph 0.05, 0

do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 1200,650 font "DejaVu Sans,12" noenhanced
    } else {
        set terminal svg size 1200,650 font "DejaVu Sans,12" noenhanced dynamic background rgb "white"
    }
    set output out."/goodput_vs_rate.".fmt
    plot for [c=2:ncol] file using 1:c with linespoints lw 2 lc rgb col(c) dt 1 + (c - 2) / 8 pt pt(c) ps 1.2 title columnheader(c), \
         for [i=0:ncol-2] mfile every ::i::i using 2:5 with points pt 6 ps 3 lw 2 lc rgb col(i + 2) title (i == 0 ? "max rate at 90%" : "")
    set output
}
