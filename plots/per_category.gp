# per_category.gp: SLO attainment per task category (latency- vs frequency-sensitive x
# single- vs multi-device; left) and per service (right), one bar per policy, at rate
# scale ref_rate (1 when unset). experiments/per-category, and epara plot (epara report
# writes both inputs at its reference rate, each category labelled with its share of the
# requests: "latency/single (6.5%)").
# input:  per_category.csv, per_service.csv (columns: category or "service (category)", then one per policy: SLO attainment in [0,1])
# output: per_category.png, per_category.svg
# Usage: gnuplot -e "data='DIR'; out='DIR'" plots/per_category.gp   (experiments/per-category/run and epara plot run it)
if (!exists("data")) data = "."
if (!exists("out")) out = data
set datafile separator comma
set datafile columnheaders
f_c = data."/per_category.csv"
f_s = data."/per_service.csv"
stats f_c using 0 nooutput
ncol = STATS_columns
colors = "#4477aa #ee6677 #228833 #ccbb44 #66ccee #aa3377 #555555 #ee7733 #0077bb #33bbee #ee3377 #cc3311 #009988 #994455 #997700 #000000"
col(i) = word(colors, (i - 2) % 16 + 1)

set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set grid ytics
set yrange [0:105]
set ylabel "SLO attainment (% of requests in the window)"
set xtics nomirror
unset key

do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 1600,700 font "DejaVu Sans,12" noenhanced
    } else {
        set terminal svg size 1600,700 font "DejaVu Sans,12" noenhanced dynamic background rgb "white"
    }
    set output out."/per_category.".fmt
    set multiplot title sprintf("SLO attainment per task category and per service (rate scale %g)", exists("ref_rate") ? ref_rate : 1)
    set lmargin at screen 0.05; set rmargin at screen 0.33; set bmargin at screen 0.3; set tmargin at screen 0.8
    set title "per category (sensitivity / devices; its share of requests)"
    set xlabel "category"
    set xtics rotate by 20 right
    plot for [c=2:ncol] f_c using (100*column(c)):xtic(1) lc rgb col(c)
    set lmargin at screen 0.40; set rmargin at screen 0.98
    set title "per service"
    set xlabel "service (category)"
    set xtics rotate by 30 right
    plot for [c=2:ncol] f_s using (100*column(c)):xtic(1) lc rgb col(c)
    # One key for both panels: an empty full-width plot under the title.
    set lmargin at screen 0.05; set rmargin at screen 0.95; set bmargin at screen 0.86; set tmargin at screen 0.92
    unset border; unset tics; unset grid; unset title; unset xlabel; unset ylabel
    set style data linespoints
    set xrange [0:1]; set yrange [0:1]
    set key center center horizontal maxrows 1 box samplen 2 width 1
    plot for [c=2:ncol] f_c using (0.5):(-1) with boxes fs solid 0.85 border -1 lc rgb col(c) title columnheader(c)
    unset key; set border; set tics; set grid ytics; set yrange [0:105]; set xrange [*:*]
    set style data histograms
    set ylabel "SLO attainment (% of requests in the window)"
    unset multiplot
    set output
}
