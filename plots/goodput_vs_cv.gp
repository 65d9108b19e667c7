# goodput_vs_cv.gp: goodput and SLO attainment against the burstiness of the LLM workloads
# (inter-arrival CV of the generated Gamma arrivals), one line per policy: all services
# (top) and the four LLM services whose arrivals vary (bottom). experiments/goodput-vs-burstiness.
# input:  goodput_vs_cv.csv, attainment_vs_cv.csv, llm_goodput_vs_cv.csv, llm_attainment_vs_cv.csv (columns: cv, then one per policy: mean over arrival seeds; attainment in [0,1])
# output: goodput_vs_cv.png, goodput_vs_cv.svg
# Usage: gnuplot -e "data='DIR'; out='DIR'" plots/goodput_vs_cv.gp   (experiments/goodput-vs-burstiness/run runs it)
if (!exists("data")) data = "."
if (!exists("out")) out = data
set datafile separator comma
set datafile columnheaders
f_g = data."/goodput_vs_cv.csv"
f_a = data."/attainment_vs_cv.csv"
f_lg = data."/llm_goodput_vs_cv.csv"
f_la = data."/llm_attainment_vs_cv.csv"
stats f_g using 1 nooutput
ncol = STATS_columns
colors = "#4477aa #ee6677 #228833 #ccbb44 #66ccee #aa3377 #555555 #ee7733 #0077bb #33bbee #ee3377 #cc3311 #009988 #994455 #997700 #000000"
col(i) = word(colors, (i - 2) % 16 + 1)
points = "7 5 9 11 13 4 6 8 10 12 1 2 3"
pt(i) = int(word(points, (i - 2) % 13 + 1))

set logscale x 2
set xtics (1, 2, 4, 8, 13) nomirror
set xrange [0.85:15.5]
set grid
unset key

# panel(x0, y0): place the next plot's frame with its lower-left corner at screen (x0, y0).
panel(x0, y0) = sprintf("set lmargin at screen %g; set rmargin at screen %g; set bmargin at screen %g; set tmargin at screen %g", x0, x0 + 0.40, y0, y0 + 0.32)

do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 1400,950 font "DejaVu Sans,12" noenhanced
    } else {
        set terminal svg size 1400,950 font "DejaVu Sans,12" noenhanced dynamic background rgb "white"
    }
    set output out."/goodput_vs_cv.".fmt
    set multiplot title "Goodput and SLO attainment vs burstiness of the LLM arrivals"
    set xlabel "inter-arrival CV of the LLM workloads (Gamma; 1 = Poisson)"
    eval panel(0.08, 0.53)
    set title "all services: goodput"
    set ylabel "goodput (requests meeting their SLO per s)"
    set yrange [0:*]
    plot for [c=2:ncol] f_g using 1:c with linespoints lw 2 lc rgb col(c) pt pt(c) ps 1.2 title columnheader(c)
    eval panel(0.57, 0.53)
    set title "all services: SLO attainment"
    set ylabel "SLO attainment (% of requests)"
    set yrange [0:105]
    plot for [c=2:ncol] f_a using 1:(100*column(c)) with linespoints lw 2 lc rgb col(c) pt pt(c) ps 1.2 title columnheader(c)
    eval panel(0.08, 0.07)
    set title "LLM services (llama-1b/3b/8b/13b): goodput"
    set ylabel "goodput (requests meeting their SLO per s)"
    set yrange [0:*]
    plot for [c=2:ncol] f_lg using 1:c with linespoints lw 2 lc rgb col(c) pt pt(c) ps 1.2 title columnheader(c)
    eval panel(0.57, 0.07)
    set title "LLM services: SLO attainment"
    set ylabel "SLO attainment (% of requests)"
    set yrange [0:105]
    plot for [c=2:ncol] f_la using 1:(100*column(c)) with linespoints lw 2 lc rgb col(c) pt pt(c) ps 1.2 title columnheader(c)
    # One key for the four panels: an empty full-width plot under the title.
    set lmargin at screen 0.05; set rmargin at screen 0.95; set bmargin at screen 0.895; set tmargin at screen 0.935
    unset border; unset tics; unset grid; unset title; unset xlabel; unset ylabel; unset logscale x
    set xrange [0:1]; set yrange [0:1]
    set key center center horizontal maxrows 1 box samplen 3 width 1
    plot for [c=2:ncol] f_g using (0.5):(-1) with linespoints lw 2 lc rgb col(c) pt pt(c) ps 1.2 title columnheader(c)
    unset key; set border; set tics; set grid; set logscale x 2; set xtics (1, 2, 4, 8, 13) nomirror; set xrange [0.85:15.5]
    unset multiplot
    set output
}
