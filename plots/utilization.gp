# utilization.gp: per-device utilization (busy time / simulated time) per series at the
# reference rate scale; above 100% only where co-located instances overlap (MT). The bound
# has no bars: a fluid LP keeps no real device busy. Devices no series uses are named in the
# title with the reason (idle_note, from idle_devices.csv).
# input:  utilization.csv (columns: device as node/spec, then one per series: mean utilization in [0,1+] over seeds)
# output: utilization.png, utilization.svg
# Usage: gnuplot -e "data='DIR'; out='DIR'" plots/utilization.gp   (epara plot runs it; it sets ref_rate and idle_note)
if (!exists("data")) data = "."
if (!exists("out")) out = data
file = data."/utilization.csv"
set datafile separator comma
set datafile columnheaders
stats file using 0 nooutput
ncol = STATS_columns
colors = "#4477aa #ee6677 #228833 #ccbb44 #66ccee #aa3377 #555555 #ee7733 #0077bb #33bbee #ee3377 #cc3311 #009988 #994455 #997700 #000000"
col(i) = word(colors, (i - 2) % 16 + 1)

at = exists("ref_rate") ? sprintf(" at rate scale x%g", ref_rate) : " at the reference rate scale"
note = exists("idle_note") ? "\n".idle_note : ""
set title "Device utilization".at." (policies only: the bound is a fluid LP with no real devices)".note
set xlabel "device (node/device class)"
set ylabel "utilization (% busy of simulated time)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set xtics rotate by 30 right nomirror
set yrange [0:*]
set offsets 0, 0, graph 0.05, 0
set key outside right top vertical box

do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 1400,700 font "DejaVu Sans,12" noenhanced
    } else {
        set terminal svg size 1400,700 font "DejaVu Sans,12" noenhanced dynamic background rgb "white"
    }
    set output out."/utilization.".fmt
    plot for [c=2:ncol] file using (100*column(c)):xtic(1) lc rgb col(c) title columnheader(c)
    set output
}
