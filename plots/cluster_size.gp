# cluster_size.gp: scaling with the cluster: goodput per device, SLO attainment and the
# scheduler's time per placement round (log axis; the bound: one LP) against the number of
# nodes, one line per policy. experiments/goodput-vs-cluster-size.
# input:  goodput_per_device_vs_size.csv, attainment_vs_size.csv, place_time_vs_size.csv (columns: nodes, then one per policy: req/s per device; attainment in [0,1]; ms per round)
# output: cluster_size.png, cluster_size.svg
# Usage: gnuplot -e "data='DIR'; out='DIR'" plots/cluster_size.gp   (experiments/goodput-vs-cluster-size/run runs it)
if (!exists("data")) data = "."
if (!exists("out")) out = data
set datafile separator comma
set datafile columnheaders
f_g = data."/goodput_per_device_vs_size.csv"
f_a = data."/attainment_vs_size.csv"
f_p = data."/place_time_vs_size.csv"
stats f_g using 1 nooutput
ncol = STATS_columns
xmin = STATS_min
xmax = STATS_max
colors = "#4477aa #ee6677 #228833 #ccbb44 #66ccee #aa3377 #555555 #ee7733 #0077bb #33bbee #ee3377 #cc3311 #009988 #994455 #997700 #000000"
col(i) = word(colors, (i - 2) % 16 + 1)
points = "7 5 9 11 13 4 6 8 10 12 1 2 3"
pt(i) = int(word(points, (i - 2) % 13 + 1))
# panel(x0): the next plot's frame, 0.26 of the width from screen x0.
panel(x0) = sprintf("set lmargin at screen %g; set rmargin at screen %g; set bmargin at screen 0.12; set tmargin at screen 0.76", x0, x0 + 0.26)
axes = "set border; set tics; set grid; set logscale x; set xtics (10, 20, 50, 100) nomirror; set xrange [xmin / 1.2 : xmax * 1.2]"

eval axes
unset key

do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 1600,600 font "DejaVu Sans,12" noenhanced
    } else {
        set terminal svg size 1600,600 font "DejaVu Sans,12" noenhanced dynamic background rgb "white"
    }
    set output out."/cluster_size.".fmt
    set multiplot title "Scaling with the cluster size (1/5 GPU servers, 2/5 Jetsons, 2/5 RPis; the workload grows with the nodes)"
    set xlabel "nodes (log axis)"
    eval panel(0.05)
    set title "goodput per device"
    set ylabel "goodput per device (req/s meeting their SLO)"
    set yrange [0:*]
    plot for [c=2:ncol] f_g using 1:c with linespoints lw 2 lc rgb col(c) pt pt(c) ps 1.2
    eval panel(0.385)
    set title "SLO attainment"
    set ylabel "SLO attainment (% of requests)"
    set yrange [0:105]
    plot for [c=2:ncol] f_a using 1:(100*column(c)) with linespoints lw 2 lc rgb col(c) pt pt(c) ps 1.2
    eval panel(0.72)
    set title "scheduler time per placement round"
    set ylabel "time per placement round (ms, log axis)"
    set logscale y
    set yrange [*:*]
    set format y "%g"
    plot for [c=2:ncol] f_p using 1:c with linespoints lw 2 lc rgb col(c) pt pt(c) ps 1.2
    unset logscale y
    set format y "% h"
    # One key for the three panels: an empty full-width plot under the title.
    set lmargin at screen 0.05; set rmargin at screen 0.95; set bmargin at screen 0.83; set tmargin at screen 0.9
    unset border; unset tics; unset grid; unset title; unset xlabel; unset ylabel; unset logscale x
    set xrange [0:1]; set yrange [0:1]
    set key center center horizontal maxrows 1 box samplen 3 width 1
    plot for [c=2:ncol] f_g using (0.5):(-1) with linespoints lw 2 lc rgb col(c) pt pt(c) ps 1.2 title columnheader(c)
    unset key
    eval axes
    unset multiplot
    set output
}
