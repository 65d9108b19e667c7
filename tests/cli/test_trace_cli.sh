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

# JSONL rows lacking a mapped key: refused with FILE:LINE, unless the map gives a default.
printf '{"timestamp":0,"input_length":100,"output_length":10,"hash_ids":[1,2,3]}\n{"timestamp":3000,"input_length":200,"output_length":20,"hash_ids":[1,4]}\n{"timestamp":3000,"input_length":50,"hash_ids":[5],"user":"u1"}\n' >"$T/mc.jsonl"
JMAPS='time=timestamp:ms,input=input_length,output=output_length'
expect_reject nooutput "$T/mc.jsonl" 'missing key "output_length" \(mapped to output' --format jsonl --map "$JMAPS"
grep -q "mc.jsonl:3: " "$T/err" && ok || bad "missing output names line 3: $(cat "$T/err")"
"$EPARA" trace import --db "$DB" --name mc0 --format jsonl --map "$JMAPS?0" "$T/mc.jsonl" >/dev/null && ok || bad "output=COL?0 imports"
"$EPARA" trace export --db "$DB" --name mc0 | awk -F, 'NR == 4 && $3 != "0" { e = 1 } END { exit e }' && ok || bad "output default 0 fills the missing key"
"$EPARA" trace import --db "$DB" --name mc --format jsonl --map "$JMAPS?" "$T/mc.jsonl" >/dev/null && ok || bad "output=COL? imports"
"$EPARA" trace info --db "$DB" --name mc --json >"$T/mc.json"
grep -q '"output_p50":15' "$T/mc.json" && ok || bad "output=COL? leaves the missing output unknown: $(cat "$T/mc.json")"
"$EPARA" trace import --db "$DB" --name x --format jsonl --map "$JMAPS?lots" "$T/mc.jsonl" >/dev/null 2>"$T/err"
[ $? -eq 2 ] && grep -q "output default: expected a non-negative integer" "$T/err" && ok || bad "bad default is a --map error: $(cat "$T/err")"

# Unmapped fields (prefix-cache hash_ids, ...) are kept in attrs and listed by trace info.
grep -q '"attrs_rows":3' "$T/mc.json" && grep -q '"attrs_keys":{"hash_ids":3,"user":1}' "$T/mc.json" && ok || bad "info --json lists the kept keys: $(cat "$T/mc.json")"
"$EPARA" trace info --db "$DB" --name mc | grep -q '^attrs .*hash_ids (3), user (1)' && ok || bad "info lists the kept keys"
"$EPARA" trace export --db "$DB" --name mc >"$T/mc.csv"
grep -q '"{""hash_ids"":\[5\],""user"":""u1""}"' "$T/mc.csv" && ok || bad "export keeps attrs: $(cat "$T/mc.csv")"
"$EPARA" trace import --db "$DB" --name mcnone --format jsonl --map "$JMAPS?,attrs=none" "$T/mc.jsonl" >/dev/null && ok || bad "attrs=none imports"
"$EPARA" trace info --db "$DB" --name mcnone --json | grep -q '"attrs_rows":0' && ok || bad "attrs=none keeps nothing"
# Export -> re-import -> export keeps attrs exactly (an attrs column is merged, not nested).
EXPMAP='time=arrival_ns:ns,input=input,output=output,stream=stream,frame=frame,exec=exec_ns:ns,kind=kind,service=service'
"$EPARA" trace import --db "$DB" --name mc2 --format csv --map "$EXPMAP" "$T/mc.csv" >/dev/null && ok || bad "re-import with attrs"
"$EPARA" trace export --db "$DB" --name mc2 >"$T/mc2.csv"
cmp -s "$T/mc.csv" "$T/mc2.csv" && ok || { bad "attrs round trip (csv)"; diff "$T/mc.csv" "$T/mc2.csv"; }
"$EPARA" trace export --db "$DB" --name mc --format jsonl >"$T/mc.jl"
"$EPARA" trace import --db "$DB" --name mc3 --format jsonl \
    --map 'time=arrival_ns:ns,input=input?,output=output?,stream=stream?,frame=frame?,exec=exec_ns:ns?,kind=kind?,service=service?' \
    "$T/mc.jl" >/dev/null && ok || bad "re-import of jsonl export"
"$EPARA" trace export --db "$DB" --name mc3 >"$T/mc3.csv"
cmp -s "$T/mc.csv" "$T/mc3.csv" && ok || { bad "attrs round trip (jsonl)"; diff "$T/mc.csv" "$T/mc3.csv"; }
printf 't,i,hash_ids\n1,5,"[1, 2]"\n2,6,\n' >"$T/h.csv"
"$EPARA" trace import --db "$DB" --name hcsv --format csv --map 'time=t:s,input=i' "$T/h.csv" >/dev/null && ok || bad "csv with an unmapped column"
"$EPARA" trace export --db "$DB" --name hcsv | grep -q '"{""hash_ids"":""\[1, 2\]""}"' && ok || bad "csv keeps the unmapped column as a string"

# Quantized timestamps: 40 buckets 3 s apart with 5 requests each.
awk 'BEGIN { print "t,i"; for (b = 0; b < 40; b++) for (k = 0; k < 5; k++) print b * 3 "," k }' >"$T/q.csv"
"$EPARA" trace import --db "$DB" --name q --format csv --map 'time=t:s,input=i' "$T/q.csv" >/dev/null && ok || bad "bucketed import"
"$EPARA" trace info --db "$DB" --name q --json >"$T/q.json"
grep -q '"distinct_arrivals":40,"tick_s":3.0,"tied_requests":160,"quantized":true' "$T/q.json" && ok || bad "info detects 3 s buckets: $(cat "$T/q.json")"
"$EPARA" trace info --db "$DB" --name q >"$T/q.txt"
grep -q '^arrival times *40 distinct times, tick 3 s' "$T/q.txt" && grep -q '^warning .*80% of the requests share' "$T/q.txt" && ok || bad "info warns of quantization: $(cat "$T/q.txt")"
"$EPARA" trace info --db "$DB" --name good | grep -q '^warning' && bad "a trace without ties is not flagged" || ok
"$EPARA" trace spread --db "$DB" --name q --out qs --seed 5 >/dev/null && ok || bad "spread"
"$EPARA" trace info --db "$DB" --name qs --json | grep -q '"distinct_arrivals":200,.*"quantized":false' && ok || bad "spread leaves no ties"
# Each request stays in its bucket [3b, 3b + 3) s, so per-bucket counts are kept.
"$EPARA" trace export --db "$DB" --name qs | awk -F, 'NR > 1 { n[int($1 / 3e9)]++ } END { for (b = 0; b < 40; b++) if (n[b] != 5) e = 1; exit e }' && ok || bad "spread keeps 5 requests in every bucket"
"$EPARA" trace export --db "$DB" --name qs >"$T/qs1.csv"
"$EPARA" trace spread --db "$DB" --name q --out qs --seed 5 --replace >/dev/null
"$EPARA" trace export --db "$DB" --name qs >"$T/qs2.csv"
cmp -s "$T/qs1.csv" "$T/qs2.csv" && ok || bad "spread with the same seed is deterministic"
"$EPARA" trace spread --db "$DB" --name q --out qs --seed 6 --replace >/dev/null
"$EPARA" trace export --db "$DB" --name qs >"$T/qs3.csv"
cmp -s "$T/qs1.csv" "$T/qs3.csv" && bad "another seed gives other offsets" || ok
"$EPARA" trace spread --db "$DB" --name qs --out qs2 >/dev/null 2>"$T/err"
[ $? -eq 2 ] && grep -q "give --width" "$T/err" && ok || bad "spread of an unquantized trace asks for --width"
"$EPARA" trace spread --db "$DB" --name q --out qw --width 1.5 >/dev/null && ok || bad "spread --width"
"$EPARA" trace spread --help | grep -q -- '--seed N' && ok || bad "spread --help documents the seed"

# Lognormal sizes clipped at a maximum (the real trace's), six-number form.
"$EPARA" trace gen --db "$DB" --name clip --kind poisson --rate 100 --duration 100 --seed 3 \
    --sizes lognormal:7.292,0.985,2.565,1.273,7437,1899 >/dev/null && ok || bad "gen with clipped lognormal sizes"
"$EPARA" trace info --db "$DB" --name clip --json >"$T/clip.json"
grep -q '"input_max":7437.0' "$T/clip.json" && ok || bad "inputs clipped at 7437: $(cat "$T/clip.json")"
awk -v j="$(grep -o '"output_max":[0-9.]*' "$T/clip.json" | cut -d: -f2)" 'BEGIN { exit !(j <= 1899) }' && ok || bad "outputs clipped at 1899"
"$EPARA" trace gen --db "$DB" --name clip2 --kind poisson --rate 100 --duration 100 --seed 3 \
    --sizes lognormal:7.292,0.985,2.565,1.273 >/dev/null
"$EPARA" trace info --db "$DB" --name clip2 --json | grep -q '"input_max":7437.0' && bad "without a clip the maximum exceeds it" || ok
for spec in 7,1,2,1,0,10 7,1,2,1,10 7,1,2,1,10,2.5 7,1,2,1,2e9,10; do
    "$EPARA" trace gen --db "$DB" --name bad --sizes "lognormal:$spec" >/dev/null 2>&1
    [ $? -eq 2 ] && ok || bad "--sizes lognormal:$spec must exit 2"
done

# Help and usage.
"$EPARA" --help | grep -q 'usage: epara' && ok || bad "epara --help"
for c in import gen info list export rm scale spread merge; do
    "$EPARA" trace $c --help | grep -q "usage: epara trace $c" && ok || bad "trace $c --help"
done
"$EPARA" trace frobnicate >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "unknown subcommand exits 2"
"$EPARA" trace import --db "$DB" --format nope "$T/good.csv" >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "unknown format exits 2"

# Skipped rows: the import counts them all on stdout and says how many stderr lists (the
# first 20), never "reported above" when fewer were shown.
G=$T/gentd.csv
echo "gmt_create,predict_type,predict_status,exec_time_seconds,groupId,prompt_length,negative_prompt_length,num_images_per_prompt,num_inference_steps,checkpoint_model_version_id,num_lora" >"$G"
for i in $(seq 1 25); do
    echo "2024-11-15 16:57:$((10 + i)),TXT_2_IMG,PENDING,,G0000,,,1.0,30.0,M0000,0" >>"$G"
done
echo "2024-11-15 16:58:50,TXT_2_IMG,SUCCEED,32.0,G0000,63.0,26.0,1.0,30.0,M0000,0" >>"$G"
"$EPARA" trace import --db "$T/g.db" --name g --format alibaba-gentd "$G" >"$T/out" 2>"$T/err"
grep -q "^skipped 25 rows (the first 20 listed on stderr)" "$T/out" && ok ||
    { bad "gentd import does not count 25 skipped rows, 20 listed"; cat "$T/out"; }
[ "$(grep -c ': skipped: pending request' "$T/err")" -eq 20 ] && ok ||
    { bad "stderr does not list the first 20 skipped rows"; cat "$T/err"; }
{ head -6 "$G"; tail -1 "$G"; } >"$T/g5.csv"
"$EPARA" trace import --db "$T/g.db" --name g2 --format alibaba-gentd "$T/g5.csv" \
    >"$T/out" 2>"$T/err"
grep -q "^skipped 5 rows (each listed on stderr)" "$T/out" && ok ||
    { bad "5 skipped rows miscounted"; cat "$T/out" "$T/err"; }

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
