# placement_over_time.gp: instances per service over time under EPARA (top) and AlpaServe
# (bottom) on the default scenario, one step line per service; lines are offset by up to
# +-0.15 so that equal counts stay visible. experiments/placement-over-time.
# input:  placement_over_time_epara.csv, placement_over_time_alpaserve.csv (columns: time_s, then one per service: instances from that time on)
# output: placement_over_time.png, placement_over_time.svg
# Usage: gnuplot -e "data='DIR'; out='DIR'" plots/placement_over_time.gp   (experiments/placement-over-time/run runs it)
if (!exists("data")) data = "."
if (!exists("out")) out = data
set datafile separator comma
set datafile columnheaders
f_e = data."/placement_over_time_epara.csv"
f_a = data."/placement_over_time_alpaserve.csv"
stats f_e using 1 nooutput
ncol = STATS_columns
colors = "#4477aa #ee6677 #228833 #ccbb44 #66ccee #aa3377 #555555 #ee7733 #0077bb #33bbee #ee3377 #cc3311 #009988 #994455 #997700 #000000"
col(i) = word(colors, (i - 2) % 16 + 1)
off(i) = ncol > 2 ? 0.3 * (i - 2) / (ncol - 2) - 0.15 : 0

set grid
set autoscale xfix
set xlabel "simulated time (s)"
set ylabel "instances (lines offset by up to +-0.15)"
set yrange [-0.5:*]
set key outside right top vertical box

do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 1300,900 font "DejaVu Sans,12" noenhanced
    } else {
        set terminal svg size 1300,900 font "DejaVu Sans,12" noenhanced dynamic background rgb "white"
    }
    set output out."/placement_over_time.".fmt
    set multiplot layout 2,1 title "Instances per service over time (default scenario)"
    set title "epara"
    plot for [c=2:ncol] f_e using 1:(column(c) + off(c)) with steps lw 2 lc rgb col(c) title columnheader(c)
    set title "alpaserve"
    plot for [c=2:ncol] f_a using 1:(column(c) + off(c)) with steps lw 2 lc rgb col(c) title columnheader(c)
    unset multiplot
    set output
}
