#!/usr/bin/env bash
# Pins the simulator's behaviour: the event hash of every runtime policy on the embedded
# default scenario and on four suite scenarios (LLM chat, long context, a 70B model over
# several devices, bursty code completion), replayed from the production traces, must equal the one recorded in
# event_hashes.txt beside this script. A refactoring that keeps behaviour keeps every hash;
# a change that moves one on purpose regenerates the table in the same commit and says why:
#   tests/cli/test_event_hashes.sh build/epara ../shared --update
# Skipped (77) without the shared traces: the generated fallback traces are not pinned.
# Usage: test_event_hashes.sh EPARA [SHARED_DIR] [--update]
set -u
EPARA=$1
SHARED=${2:-}
UPDATE=${3:-}
HERE=$(cd "$(dirname "$0")" && pwd)
TABLE=$HERE/event_hashes.txt
SUITE=$HERE/../../experiments/scenarios/suite
if [ -z "$SHARED" ] || [ ! -f "$SHARED/traces/AzureLLMInferenceTrace_code.csv" ]; then
    echo "skipped: the production traces (SHARED_DIR/traces) are not here"
    exit 77
fi
SHARED=$(cd "$SHARED" && pwd) # a scenario resolves a relative EP_SHARED_DIR from its own directory
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# scenario (default = the embedded one), rate scale, duration (s)
runs="default 2 600
llm-chat 2 600
llm-long-context 2 600
multi-device-70b 2 300
code-bursty 1.7 1200"
policies=$("$EPARA" sim --list-policies | awk '$1 != "bound" { print $1 }')
[ -n "$policies" ] || { echo "FAIL: no policies listed"; exit 1; }

: >"$T/now.txt"
while read -r scen rate dur; do
    args=()
    [ "$scen" = default ] || args=(--scenario "$SUITE/$scen.yaml")
    for p in $policies; do
        if ! EP_SHARED_DIR=$SHARED "$EPARA" sim "${args[@]}" --policy "$p" --rate-scale "$rate" \
            --duration "$dur" --trace-db "$T/traces-$scen.db" --json --quiet \
            >"$T/out.json" 2>"$T/err"; then
            echo "FAIL: sim $scen $p exited non-zero"
            cat "$T/err"
            exit 1
        fi
        h=$(grep -o '"event_hash":"[0-9a-f]*"' "$T/out.json" | head -1 | cut -d'"' -f4)
        [ -n "$h" ] || { echo "FAIL: no event hash for $scen $p"; exit 1; }
        echo "$scen $p x$rate ${dur}s $h" >>"$T/now.txt"
    done
done <<<"$runs"

if [ "$UPDATE" = --update ]; then
    {
        echo "# scenario policy rate-scale duration event-hash (tests/cli/test_event_hashes.sh)"
        cat "$T/now.txt"
    } >"$TABLE"
    echo "wrote $TABLE"
    exit 0
fi
if diff <(grep -v '^#' "$TABLE") "$T/now.txt" >"$T/diff"; then
    echo "pass: $(wc -l <"$T/now.txt") event hashes as pinned"
    exit 0
fi
echo "FAIL: event hashes differ from $TABLE (< pinned, > now):"
cat "$T/diff"
echo "If the change of behaviour is intended, regenerate the table with --update and say why."
exit 1
