#!/usr/bin/env bash
# End-to-end tests of `epara trace`: every malformed input exits 2 with FILE:LINE: reason
# and leaves the database byte-for-byte unchanged; round trips, scaling, merging, listing.
# Usage: test_trace_cli.sh EPARA [SHARED_DIR]
set -u
EPARA=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
DB=$T/t.db
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect_reject NAME FILE PATTERN [import options...]: exit 2, stderr has FILE:LINE and
# PATTERN, database unchanged.
expect_reject() {
    local name=$1 file=$2 pat=$3
    shift 3
    local before after
    before=$(sha256sum "$DB" | cut -d' ' -f1)
    "$EPARA" trace import --db "$DB" --name "$name" "$@" "$file" >"$T/out" 2>"$T/err"
    local rc=$?
    after=$(sha256sum "$DB" | cut -d' ' -f1)
    if [ $rc -ne 2 ]; then bad "$name: exit $rc, want 2"; cat "$T/err"; return; fi
    if ! grep -Eq "^$file(:[0-9]+)?: .*$pat" "$T/err"; then
        bad "$name: stderr lacks '$file:LINE: ...$pat'"; cat "$T/err"; return
    fi
    if [ "$before" != "$after" ]; then bad "$name: database changed"; return; fi
    if "$EPARA" trace info --db "$DB" --name "$name" >/dev/null 2>&1; then
        bad "$name: a partial trace exists"; return
    fi
    ok
}

# A valid database to compare against.
printf 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\n2023-11-16 18:17:04.0319600,3180,8\n2023-11-16 18:17:04.0781490,110,27' >"$T/good.csv"
if "$EPARA" trace import --db "$DB" --name good --format azure-llm "$T/good.csv" >/dev/null; then ok; else bad "valid import"; fi

"$EPARA" trace info --db "$DB" --name good --json >"$T/info.json" || bad "info --json"
for k in '"requests":3' '"span_s":' '"rate_per_s":' '"interarrival_cv":' '"input_p50":' \
         '"input_p99":' '"output_p50":' '"output_p99":'; do
    grep -q "$k" "$T/info.json" && ok || bad "info --json lacks $k"
done
grep -q '"span_s":0.098189[,}]' "$T/info.json" && ok || bad "span keeps 100 ns digits: $(cat "$T/info.json")"

# Malformed inputs, one each.
: >"$T/empty.csv"
expect_reject empty "$T/empty.csv" "empty" --format azure-llm
printf '2023-11-16 18:17:03.9799600,4808,10\n' >"$T/nohdr.csv"
expect_reject nohdr "$T/nohdr.csv" "header" --format azure-llm
printf 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10,5\n' >"$T/cols.csv"
expect_reject cols "$T/cols.csv" "column" --format azure-llm
grep -q "cols.csv:2:" "$T/err" && ok || bad "wrong column count names line 2"
printf 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,48x8,10\n' >"$T/nonnum.csv"
expect_reject nonnum "$T/nonnum.csv" "" --format azure-llm
printf 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\n2023-11-16 18:17:04.0,-3,10\n' >"$T/neg.csv"
expect_reject neg "$T/neg.csv" "" --format azure-llm
grep -q "neg.csv:3:" "$T/err" && ok || bad "negative size names line 3"
printf 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,99999999999,10\n' >"$T/absurd.csv"
expect_reject absurd "$T/absurd.csv" "" --format azure-llm
printf 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-13-16 18:17:03.9799600,1,10\n' >"$T/baddate.csv"
expect_reject baddate "$T/baddate.csv" "" --format azure-llm
printf 't,i,o,k\n1,2,3,ok\n2,2,3,\xff\xfe\n' >"$T/utf8.csv"
expect_reject utf8 "$T/utf8.csv" "UTF-8" --format csv --map time=t:s,input=i,output=o,kind=k
printf 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4\r808,10\n' >"$T/cr.csv"
expect_reject cr "$T/cr.csv" "" --format azure-llm
printf 't,i\n1,2\n' >"$T/nomap.csv"
expect_reject nomapcol "$T/nomap.csv" "" --format csv --map time=t:s,input=i,output=missing

# Duplicate name: refused (exit 2, unchanged) unless --replace.
before=$(sha256sum "$DB" | cut -d' ' -f1)
"$EPARA" trace import --db "$DB" --name good --format azure-llm "$T/good.csv" >/dev/null 2>"$T/err"
rc=$?
[ $rc -eq 2 ] && grep -q "already exists" "$T/err" && ok || bad "duplicate name: exit $rc"
[ "$before" = "$(sha256sum "$DB" | cut -d' ' -f1)" ] && ok || bad "duplicate name changed the database"
"$EPARA" trace import --db "$DB" --name good --format azure-llm --replace "$T/good.csv" >/dev/null && ok || bad "--replace"

# CRLF line ends import exactly like LF.
awk '{ printf "%s\r\n", $0 }' "$T/good.csv" >"$T/crlf.csv"
"$EPARA" trace import --db "$DB" --name crlf --format azure-llm "$T/crlf.csv" >/dev/null && ok || bad "CRLF import"
"$EPARA" trace export --db "$DB" --name good >"$T/a.csv"
"$EPARA" trace export --db "$DB" --name crlf >"$T/b.csv"
cmp -s "$T/a.csv" "$T/b.csv" && ok || bad "CRLF rows differ from LF rows"

# Export -> re-import -> export is the identity.
"$EPARA" trace import --db "$DB" --name again --format csv \
    --map 'time=arrival_ns:ns,input=input,output=output,stream=stream,frame=frame,exec=exec_ns:ns,kind=kind,service=service' \
    "$T/a.csv" >/dev/null && ok || bad "re-import of export"
"$EPARA" trace export --db "$DB" --name again >"$T/c.csv"
cmp -s "$T/a.csv" "$T/c.csv" && ok || { bad "export round trip"; diff "$T/a.csv" "$T/c.csv" | head; }

# Generators, scaling, slicing, merging, listing, removal.
"$EPARA" trace gen --db "$DB" --name p --kind poisson --rate 50 --duration 100 --seed 7 \
    --sizes lognormal:6,1,4,1 >/dev/null && ok || bad "gen poisson"
"$EPARA" trace gen --db "$DB" --name v --kind video --cameras 3 --fps 10 --duration 10 >/dev/null && ok || bad "gen video"
"$EPARA" trace info --db "$DB" --name v --json | grep -q '"requests":300' && ok || bad "video frame count"
"$EPARA" trace gen --db "$DB" --name bad --kind gamma --cv 0 >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "gen with --cv 0 must exit 2"
"$EPARA" trace scale --db "$DB" --name p --out p2 --rate-scale 2 >/dev/null && ok || bad "scale"
r1=$("$EPARA" trace info --db "$DB" --name p --json | grep -o '"span_s":[0-9.e+-]*' | cut -d: -f2)
r2=$("$EPARA" trace info --db "$DB" --name p2 --json | grep -o '"span_s":[0-9.e+-]*' | cut -d: -f2)
awk -v a="$r1" -v b="$r2" 'BEGIN { exit !(b > 0.49 * a && b < 0.51 * a) }' && ok || bad "rate-scale 2 halves the span ($r1 -> $r2)"
"$EPARA" trace scale --db "$DB" --name p --out p3 --from 10 --to 20 >/dev/null && ok || bad "slice"
"$EPARA" trace export --db "$DB" --name p3 | tail -n +2 | awk -F, '$1 < 0 || $1 >= 10000000000 { e = 1 } END { exit e }' && ok || bad "slice keeps arrivals in [0, 10 s)"
"$EPARA" trace merge --db "$DB" --out mix p:llm v:seg >/dev/null && ok || bad "merge"
n=$("$EPARA" trace export --db "$DB" --name mix | grep -c ',seg,')
[ "$n" -eq 300 ] && ok || bad "merge tags 300 seg rows (got $n)"
"$EPARA" trace list --db "$DB" | grep -q '^mix ' && ok || bad "list shows mix"
"$EPARA" trace rm --db "$DB" --name mix >/dev/null && ok || bad "rm"
"$EPARA" trace info --db "$DB" --name mix >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "info of a removed trace exits 2"

# Help and usage.
"$EPARA" --help | grep -q 'usage: epara' && ok || bad "epara --help"
for c in import gen info list export rm scale merge; do
    "$EPARA" trace $c --help | grep -q "usage: epara trace $c" && ok || bad "trace $c --help"
done
"$EPARA" trace frobnicate >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "unknown subcommand exits 2"
"$EPARA" trace import --db "$DB" --format nope "$T/good.csv" >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "unknown format exits 2"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
