# ablation.gp: EPARA with one mechanism switched off at a time: goodput at the reference rate
# scale (left) and the largest swept rate scale up to which SLO attainment stays >= 90%
# (right; capped at the largest scale swept, 0 when even the smallest misses 90%).
# input:  ablation.csv (columns: variant, goodput_per_s, max_rate)
# output: ablation.png, ablation.svg
# Usage: gnuplot -e "data='DIR'; out='DIR'" plots/ablation.gp   (epara plot runs it)
# Optional: max_title and max_ylabel name the right panel when max_rate comes from elsewhere
# (experiments/ablation/run: epara maxrate at a mean attainment over services >= 80%).
if (!exists("data")) data = "."
if (!exists("out")) out = data
if (!exists("max_title")) max_title = "max rate scale at SLO attainment >= 90%"
if (!exists("max_ylabel")) max_ylabel = "rate scale (x recorded rate; capped at the largest swept)"
file = data."/ablation.csv"
set datafile separator comma
set datafile columnheaders

set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.8
set grid ytics
set xtics rotate by 30 right nomirror
set yrange [0:*]
set offsets 0, 0, graph 0.08, 0
unset key

do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 1400,650 font "DejaVu Sans,12" noenhanced
    } else {
        set terminal svg size 1400,650 font "DejaVu Sans,12" noenhanced dynamic background rgb "white"
    }
    set output out."/ablation.".fmt
    set multiplot layout 1,2 title "EPARA ablations"
    set title "goodput at the reference rate scale"
    set ylabel "goodput (requests meeting their SLO per s)"
    plot file using (valid(2) ? $2 : 0):xtic(1) lc rgb "#4477aa", \
         file using 0:(valid(2) ? $2 : 0):(valid(2) ? sprintf("%.4g", $2) : "none") with labels font ",10" offset 0,0.7 notitle
    set title max_title
    set ylabel max_ylabel
    plot file using (valid(3) ? $3 : 0):xtic(1) lc rgb "#ee6677", \
         file using 0:(valid(3) ? $3 : 0):(valid(3) ? sprintf("%.4g", $3) : "") with labels font ",10" offset 0,0.7 notitle
    unset multiplot
    set output
}
