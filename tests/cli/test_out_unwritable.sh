#!/usr/bin/env bash
# Output and input paths are checked before any work: `--out` to a place that cannot be
# written (a missing directory, a path under a regular file, a directory, and a read-only
# directory when not root) makes sim, sweep, maxrate and profile exit 2 naming the path,
# before any trace is prepared (the trace database is not even created); a scenario whose
# import file is missing and that gives no generator names the file it looked for.
# Usage: test_out_unwritable.sh EPARA [SHARED_DIR]
set -u
EPARA=$1
T=$(mktemp -d)
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
export EP_SHARED_DIR=$T/nothing # preparing would generate traces: slow, and visible

touch "$T/afile"
mkdir -p "$T/ro"
places=("$T/nodir/x.db" "$T/afile/x.db" "$T")
if [ "$(id -u)" != 0 ]; then
    chmod 555 "$T/ro"
    places+=("$T/ro/x.db")
fi

# expect_early WHAT OUT CMD...: exit 2, stderr names --out and OUT, no trace prepared.
n=0
expect_early() {
    local what=$1 out=$2
    shift 2
    n=$((n + 1))
    local tdb=$T/tr$n.db
    "$@" --trace-db "$tdb" --out "$out" >"$T/o" 2>"$T/e"
    local rc=$?
    [ $rc -eq 2 ] && ok || { bad "$what --out $out: exit $rc (want 2)"; cat "$T/e"; }
    grep -qF -- "--out $out" "$T/e" && ok || { bad "$what --out $out: the message names it"; cat "$T/e"; }
    [ ! -e "$tdb" ] && ! grep -q "trace '" "$T/e" && ok ||
        { bad "$what --out $out: traces were prepared before the check"; cat "$T/e"; }
}
for out in "${places[@]}"; do
    expect_early sim "$out" "$EPARA" sim --policy static --duration 20 --quiet
    expect_early sweep "$out" "$EPARA" sweep --policies static --grid 'rate_scale=1' --duration 20 --quiet
    expect_early maxrate "$out" "$EPARA" maxrate --policy static --duration 20 --quiet
done
# profile measures before writing: it must refuse first too.
"$EPARA" profile --engine emulated --service llama-1b --out "$T/nodir/p.db" >"$T/o" 2>"$T/e"
rc=$?
[ $rc -eq 2 ] && grep -qF -- "--out $T/nodir/p.db" "$T/e" && ! grep -q '^profile:' "$T/o" && ok ||
    { bad "profile --out to a missing directory: exit $rc"; cat "$T/e" "$T/o"; }
# A writable --out still works, and a dry run checks nothing (it writes nothing).
"$EPARA" sweep --policies static --grid 'rate_scale=1' --duration 20 --trace-db "$T/tr.db" \
    --out "$T/nodir/x.db" --dry-run --quiet >/dev/null 2>&1
[ $? -eq 0 ] && [ ! -e "$T/nodir" ] && ok || bad "sweep --dry-run with an unwritable --out"
"$EPARA" sim --policy static --duration 20 --trace-db "$T/tr.db" --out "$T/ok.db" --quiet >/dev/null 2>&1
[ $? -eq 0 ] && [ -s "$T/ok.db" ] && ok || bad "sim --out to a writable place"
probes=$(find "$T" -maxdepth 1 -name '.epara-probe-*' | wc -l)
[ "$probes" = 0 ] && ok || bad "the writability probe was left behind"

# A missing import file without a generator: the message names the file.
awk 'BEGIN { skip = 0 }
    /^  - trace: azure-code/ { code = 1 }
    code && /^    generate:/ { skip = 1; code = 0 }
    skip { if ($0 ~ /}/) skip = 0; next }
    { print }' "$(dirname "$0")/../../experiments/scenarios/edge-default.yaml" >"$T/nogen.yaml"
grep -q 'AzureLLMInferenceTrace_code.csv' "$T/nogen.yaml" && ok || bad "test scenario lost its import"
"$EPARA" sim --scenario "$T/nogen.yaml" --duration 20 --trace-db "$T/nogen.db" --quiet >"$T/o" 2>"$T/e"
rc=$?
[ $rc -ne 0 ] && ok || bad "a missing import file without a generator: exit 0"
grep -qF "$T/nothing/traces/AzureLLMInferenceTrace_code.csv" "$T/e" && grep -q "is missing" "$T/e" && ok ||
    { bad "the missing import file is named"; cat "$T/e"; }

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
