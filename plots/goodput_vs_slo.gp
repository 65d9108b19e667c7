# goodput_vs_slo.gp: goodput, SLO attainment and the mean attainment over services against
# the SLO scale (every service's TTFT, TPOT and deadlines multiplied by it), one line per
# policy, at rate scale 1. experiments/goodput-vs-slo.
# input:  goodput_vs_slo.csv, attainment_vs_slo.csv, mean_attainment_vs_slo.csv (columns: slo_scale, then one per policy: mean over seeds; attainment in [0,1])
# output: goodput_vs_slo.png, goodput_vs_slo.svg
# Usage: gnuplot -e "data='DIR'; out='DIR'" plots/goodput_vs_slo.gp   (experiments/goodput-vs-slo/run runs it)
if (!exists("data")) data = "."
if (!exists("out")) out = data
set datafile separator comma
set datafile columnheaders
f_g = data."/goodput_vs_slo.csv"
f_a = data."/attainment_vs_slo.csv"
f_m = data."/mean_attainment_vs_slo.csv"
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

set logscale x
set xtics (0.5, 0.75, 1, 1.5, 2, 3) nomirror
set xrange [xmin / 1.15 : xmax * 1.15]
set grid
unset key

do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 1600,600 font "DejaVu Sans,12" noenhanced
    } else {
        set terminal svg size 1600,600 font "DejaVu Sans,12" noenhanced dynamic background rgb "white"
    }
    set output out."/goodput_vs_slo.".fmt
    set multiplot title "Goodput and SLO attainment vs SLO scale (rate scale 1)"
    set xlabel "SLO scale (x every SLO time; log axis)"
    eval panel(0.05)
    set title "goodput"
    set ylabel "goodput (requests meeting their SLO per s)"
    set yrange [0:*]
    plot for [c=2:ncol] f_g using 1:c with linespoints lw 2 lc rgb col(c) pt pt(c) ps 1.2
    eval panel(0.385)
    set title "SLO attainment, all requests"
    set ylabel "SLO attainment (% of requests)"
    set yrange [0:105]
    plot for [c=2:ncol] f_a using 1:(100*column(c)) with linespoints lw 2 lc rgb col(c) pt pt(c) ps 1.2
    eval panel(0.72)
    set title "mean SLO attainment over services"
    set ylabel "mean of the services' attainment (%)"
    plot for [c=2:ncol] f_m using 1:(100*column(c)) with linespoints lw 2 lc rgb col(c) pt pt(c) ps 1.2
    # One key for the three panels: an empty full-width plot under the title.
    set lmargin at screen 0.05; set rmargin at screen 0.95; set bmargin at screen 0.83; set tmargin at screen 0.9
    unset border; unset tics; unset grid; unset title; unset xlabel; unset ylabel; unset logscale x
    set xrange [0:1]; set yrange [0:1]
    set key center center horizontal maxrows 1 box samplen 3 width 1
    plot for [c=2:ncol] f_g using (0.5):(-1) with linespoints lw 2 lc rgb col(c) pt pt(c) ps 1.2 title columnheader(c)
    unset key; set border; set tics; set grid; set logscale x; set xtics (0.5, 0.75, 1, 1.5, 2, 3) nomirror
    set xrange [xmin / 1.15 : xmax * 1.15]
    unset multiplot
    set output
}
