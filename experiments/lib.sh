# shellcheck shell=bash disable=SC2034  # (variables for the drivers that source this)
# Shared by the study drivers (experiments/*/run; sourced, not run): where outputs go, the
# reduced mode, provenance, JSON field extraction and drawing a figure. Every variable a
# driver may override comes from the environment:
#   EPARA     the epara binary (default build/epara, a Release build: `make`)
#   OUT       output directory (default experiments/STUDY/out, git-ignored)
#   QUICK=1   reduced mode for tests: fewer points, 30 s of the workload
#   JOBS      worker processes for sweeps (default: the number of cores)
#   EP_SHARED_DIR  the production traces' parent (default ../shared); absent traces are
#             generated as stand-ins (rate, burstiness, size quantiles: traces/README.md)

# study_init NAME: cd to the repository root, set EPARA, OUT, QUICK, JOBS, TDB (trace
# database), RES (results database), FIG (figures), and write OUT/study.txt (provenance).
study_init() {
    STUDY=$1
    # EPARA and OUT given relative to the caller's directory stay valid after the cd.
    case ${EPARA:-} in '' | /*) ;; *) if [ -e "$EPARA" ]; then EPARA=$PWD/$EPARA; fi ;; esac
    case ${OUT:-} in '' | /*) ;; *) OUT=$PWD/$OUT ;; esac
    cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
    EPARA=${EPARA:-build/epara}
    OUT=${OUT:-experiments/$STUDY/out}
    QUICK=${QUICK:-0}
    JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
    if [ ! -x "$EPARA" ]; then
        echo "$STUDY: $EPARA not found; build it first with 'make'" >&2
        exit 1
    fi
    # Scenario files written under OUT resolve relative paths against their own directory,
    # so the shared-traces directory must be absolute.
    local shared=${EP_SHARED_DIR:-../shared}
    if [ -d "$shared" ]; then
        EP_SHARED_DIR=$(cd "$shared" && pwd)
    else
        EP_SHARED_DIR=$(pwd)/$shared
    fi
    export EP_SHARED_DIR
    mkdir -p "$OUT"
    TDB=$OUT/traces.db
    RES=$OUT/results.db
    FIG=$OUT/figures
    mkdir -p "$FIG"
    STUDY_T0=$(date +%s)
    {
        echo "study: $STUDY"
        echo "command: $([ "$QUICK" = 1 ] && echo 'QUICK=1 ')experiments/$STUDY/run"
        echo "epara: $("$EPARA" version 2>/dev/null | head -1)"
        echo "host: $(hostname) ($(nproc 2>/dev/null || echo '?') cores; $(uname -sm))"
        echo "started: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "traces: $EP_SHARED_DIR/traces ($([ -d "$EP_SHARED_DIR/traces" ] && echo present || echo 'absent: generated'))"
    } >"$OUT/study.txt"
    echo "$STUDY: writing to $OUT (QUICK=$QUICK, $JOBS jobs)" >&2
}

# study_param KEY VALUE: records a study parameter in OUT/study.txt.
study_param() {
    echo "$1: $2" >>"$OUT/study.txt"
}

# jfield FILE KEY: the first value of "KEY" in a one-line JSON file (numbers, strings, null).
jfield() {
    grep -o "\"$2\":[^,}]*" "$1" | head -1 | cut -d: -f2 | tr -d '"'
}

# POLICIES: every built-in policy, then the LP bound (the column order of every table).
policies() {
    "$EPARA" sim --list-policies | awk '{ print $1 }' | tr '\n' ' '
}

# pivot XNAME [SERIES...]: long CSV lines "x,series,value" on stdin -> a wide CSV on stdout:
# the header "XNAME,series,...", then one row per x (in first-seen order) with the mean of
# each series' values at x (empty when it has none). The SERIES named come first, in that
# order; others follow in first-seen order. An empty value only registers x and series.
pivot() {
    local xname=$1
    shift
    awk -F, -v xname="$xname" -v order="$*" '
        BEGIN { ns = split(order, s, " "); for (j = 1; j <= ns; j++) idx[s[j]] = j }
        {
            if (!($1 in xi)) { xi[$1] = ++nx; xs[nx] = $1 }
            if (!($2 in idx)) { idx[$2] = ++ns; s[ns] = $2 }
            seen[idx[$2]] = 1
            if ($3 == "") next
            k = xi[$1] SUBSEP idx[$2]
            sum[k] += $3
            cnt[k]++
        }
        END {
            printf "%s", xname
            for (j = 1; j <= ns; j++) if (seen[j]) printf ",%s", s[j]
            printf "\n"
            for (i = 1; i <= nx; i++) {
                printf "%s", xs[i]
                for (j = 1; j <= ns; j++) {
                    if (!seen[j]) continue
                    k = i SUBSEP j
                    printf ",%s", cnt[k] ? sprintf("%.6g", sum[k] / cnt[k]) : ""
                }
                printf "\n"
            }
        }'
}

# md_table FILE FORMAT [TITLE]: a wide CSV (header line first) as a markdown table, numbers
# in the printf FORMAT (e.g. %.2f), the first column as it is.
md_table() {
    awk -F, -v fmt="$2" -v title="${3:-}" '
        NR == 1 {
            if (title != "") printf "%s\n\n", title
            printf "|"; for (i = 1; i <= NF; i++) printf " %s |", $i
            printf "\n|---|"; for (i = 2; i <= NF; i++) printf "---:|"
            printf "\n"; next
        }
        {
            printf "| %s |", $1
            for (i = 2; i <= NF; i++) printf " %s |", $i == "" ? "" : sprintf(fmt, $i)
            printf "\n"
        }' "$1"
}

# plot SCRIPT [GNUPLOT_ASSIGNMENTS]: draws plots/SCRIPT.gp with data=OUT and out=FIG (and
# any extra "name='value'" assignments); a missing gnuplot only skips the figure.
plot() {
    local gp=plots/$1.gp extra=${2:-}
    if ! command -v gnuplot >/dev/null; then
        echo "$STUDY: gnuplot not found (scripts/install-deps.sh): skipping $gp" >&2
        return 0
    fi
    gnuplot -e "data='$OUT'; out='$FIG'${extra:+; $extra}" "$gp"
    echo "$STUDY: wrote $FIG/$1.png and $FIG/$1.svg"
}

# study_done: records and prints the elapsed time and where the outputs are.
study_done() {
    local dt=$(($(date +%s) - STUDY_T0))
    echo "elapsed: ${dt} s" >>"$OUT/study.txt"
    echo "$STUDY: done in ${dt} s; tables and CSV in $OUT/, figures in $FIG/, runs in $RES"
}
