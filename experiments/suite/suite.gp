# suite.gp: the scenario suite's max rate scales: a group of bars per scenario, a bar per
# policy (EPARA, the baselines, the LP bound), for the overall attainment >= 90% target (top)
# and the mean attainment over services >= 80% target (bottom). Log scale: the scenarios'
# rates differ by orders of magnitude; a missing bar is 0 (the target is never met).
# experiments/suite/run draws it (the conventions of plots/: pngcairo and svg).
# input:  suite_overall90.csv, suite_mean80.csv (columns: scenario, one per policy, then
#         best_baseline, best_baseline_rate, epara_over_best, epara_over_bound)
# output: suite.png, suite.svg
# Usage: gnuplot -e "data='DIR'; out='DIR'; npol=N" experiments/suite/suite.gp
#        (npol: the number of policy columns after the scenario column)
if (!exists("data")) data = "."
if (!exists("out")) out = data
if (!exists("npol")) npol = 6
f_o = data."/suite_overall90.csv"
f_m = data."/suite_mean80.csv"
set datafile separator comma
set datafile columnheaders
colors = "#4477aa #ee6677 #228833 #ccbb44 #66ccee #aa3377 #555555 #ee7733 #0077bb #33bbee"
col(i) = word(colors, (i - 2) % 10 + 1)
# A bar's height, or NaN (no bar) for 0 and non-numbers.
h(c) = (valid(c) && column(c) > 0) ? column(c) : NaN

set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics mytics
set logscale y
set yrange [0.01:*]
set xtics nomirror rotate by 20 right
set ylabel "max rate scale (x recorded rate)"
set key outside right top vertical samplen 2
set rmargin at screen 0.88

do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 1500,1000 font "DejaVu Sans,12" noenhanced
    } else {
        set terminal svg size 1500,1000 font "DejaVu Sans,12" noenhanced dynamic background rgb "white"
    }
    set output out."/suite.".fmt
    set multiplot layout 2,1 title "Scenario suite: highest rate scale meeting the target, per policy (log scale; no bar: 0)"
    set title "overall SLO attainment >= 90%"
    plot for [c=2:npol+1] f_o using (h(c)):xtic(1) lc rgb col(c) title columnheader(c)
    set title "mean SLO attainment over services >= 80%"
    unset key
    plot for [c=2:npol+1] f_m using (h(c)):xtic(1) lc rgb col(c) title columnheader(c)
    unset multiplot
    set output
    set key outside right top vertical samplen 2
}
