# faults.gp: goodput over time through each fault, one figure per fault (all services on
# top, the LLM services below), one line per policy; the fault-free run of each policy
# dotted in the same colour, the fault window shaded. experiments/faults.
# input:  faults.csv (columns: fault, start_s, end_s, description; one row per figure), faults_FAULT.csv and faults_FAULT_llm.csv for each FAULT (columns: time_s = bin centre, then one per policy: goodput of the requests arriving in the bin, req/s), the fault "none" being the fault-free run
# output: faults_FAULT.png, faults_FAULT.svg for each FAULT in faults.csv
# Usage: gnuplot -e "data='DIR'; out='DIR'" plots/faults.gp   (experiments/faults/run runs it)
if (!exists("data")) data = "."
if (!exists("out")) out = data
set datafile separator comma
set datafile columnheaders
index = data."/faults.csv"
stats index using 0 nooutput
nfaults = STATS_records
f_none = data."/faults_none.csv"
f_none_llm = data."/faults_none_llm.csv"
stats f_none using 1 nooutput
ncol = STATS_columns
tmax = STATS_max
bin = STATS_records > 1 ? (STATS_max - STATS_min) / (STATS_records - 1) : 10
colors = "#4477aa #ee6677 #228833 #ccbb44 #66ccee #aa3377 #555555 #ee7733 #0077bb #33bbee #ee3377 #cc3311 #009988 #994455 #997700 #000000"
col(i) = word(colors, (i - 2) % 16 + 1)

set grid
set lmargin 10
set xrange [0:tmax + bin / 2]
set yrange [0:*]
set xlabel "arrival time (s; goodput of the requests arriving in each ".sprintf("%g", bin)." s bin)"
set key outside right top vertical box

do for [k=0:nfaults - 1] {
    # Row k of faults.csv: the fault's name, window and description.
    stats index every ::k::k using (fname = strcol(1), lo = column(2), hi = column(3), desc = strcol(4), 0) nooutput
    f_all = data."/faults_".fname.".csv"
    f_llm = data."/faults_".fname."_llm.csv"
    unset object 1
    if (hi > lo) {
        set object 1 rect from lo, graph 0 to hi, graph 1 behind fillcolor rgb "#f4c7c3" fillstyle solid 0.5 noborder
    }
    do for [fmt in "png svg"] {
        if (fmt eq "png") {
            set terminal pngcairo size 1300,900 font "DejaVu Sans,12" noenhanced
        } else {
            set terminal svg size 1300,900 font "DejaVu Sans,12" noenhanced dynamic background rgb "white"
        }
        set output out."/faults_".fname.".".fmt
        set multiplot layout 2,1 title desc.(hi > lo ? " (shaded)" : "")
        set title "all services"
        set ylabel "goodput (req/s meeting their SLO)"
        if (fname eq "none") {
            plot for [c=2:ncol] f_all using 1:c with histeps lw 2 lc rgb col(c) title columnheader(c)
        } else {
            plot for [c=2:ncol] f_all using 1:c with histeps lw 2 lc rgb col(c) title columnheader(c), \
                 for [c=2:ncol] f_none using 1:c with histeps lw 1 dt 3 lc rgb col(c) notitle
        }
        set title "LLM services (dotted: the same policy without the fault)"
        set ylabel "goodput (req/s)"
        if (fname eq "none") {
            plot for [c=2:ncol] f_llm using 1:c with histeps lw 2 lc rgb col(c) title columnheader(c)
        } else {
            plot for [c=2:ncol] f_llm using 1:c with histeps lw 2 lc rgb col(c) title columnheader(c), \
                 for [c=2:ncol] f_none_llm using 1:c with histeps lw 1 dt 3 lc rgb col(c) notitle
        }
        unset multiplot
        set output
    }
}
