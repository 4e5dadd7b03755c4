#!/usr/bin/env bash
# `cairn data inspect | split | shard` as a user runs them, including bad input.
# Usage: data_cmds_test.sh PATH/TO/cairn
set -euo pipefail
CAIRN=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() {  # expect FILE TEXT: the output holds TEXT
  grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "expected '$2' in $1"; }
}
SHARED=$(cd "$(dirname "$0")/../../../shared" && pwd)

# ---- inspect ----
cat > "$work/t.csv" <<'CSV'
age,income,city,label
31,52000,paris,yes
45,,rome,no
31,52000,paris,yes
28,n/a,rome,no
52,61000,,yes
39,58000,paris
CSV
"$CAIRN" data inspect "$work/t.csv" > "$work/o1"
expect "$work/o1" "rows: 6"
expect "$work/o1" "bad_rows: 1"
expect "$work/o1" "duplicate_rows: 1"
expect "$work/o1" "7     wrong column count"
expect "$work/o1" "1 of 4 values are not numbers"   # income: 'n/a' made it categorical
grep -qE '^  age +int +0 +28 ' "$work/o1" || { cat "$work/o1"; fail "age summary"; }
grep -qE '^  yes +3 +60.0%' "$work/o1" || { cat "$work/o1"; fail "class balance"; }
# A skipped row with the wrong field count must not turn numeric columns categorical.
printf 'a,b,label\n1,2,x\nfoo,bar,baz,qux\n' > "$work/q.csv"
"$CAIRN" data inspect "$work/q.csv" > "$work/o1q"
grep -qE '^  a +int ' "$work/o1q" && grep -qE '^  b +int ' "$work/o1q" || { cat "$work/o1q"; fail "skipped row changed column types"; }
"$CAIRN" data inspect "$work/t.csv" --json > "$work/o1.json"
expect "$work/o1.json" '"duplicate_rows": 1'

"$CAIRN" data inspect /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz > "$work/o2"
expect "$work/o2" "items: 10000"
grep -qE '^  9 +1000 +10.0%' "$work/o2" || { cat "$work/o2"; fail "IDX class balance"; }

"$CAIRN" data inspect "$SHARED/data/rt-polarity.neg" > "$work/o3"
expect "$work/o3" "examples: 5331"
expect "$work/o3" "words per line"

printf '{"text": "good", "label": "pos"}\n{"text": "bad", "label": "neg"}\n{"text": "bad", "label": "neg"}\n' > "$work/t.jsonl"
"$CAIRN" data inspect "$work/t.jsonl" > "$work/o4"
expect "$work/o4" "records: 3"
expect "$work/o4" "duplicate_records: 1"

set +e
"$CAIRN" data inspect "$work/nope.csv" > /dev/null 2> "$work/e1"; st=$?
set -e
[ $st -eq 1 ] || fail "inspect of a missing file exits 1, got $st"
expect "$work/e1" "nope.csv"

# ---- split ----
"$CAIRN" data split "$work/t.csv" --out "$work/s1" --fractions 0.5,0.5 --stratify label --seed 4 > "$work/o5"
expect "$work/o5" "train.csv: 4 records (yes 2, no 1, (missing) 1)"
for f in train test; do head -1 "$work/s1/$f.csv" | grep -qx "age,income,city,label" || fail "$f.csv lacks the header"; done
[ "$(cat "$work/s1/train.csv" "$work/s1/test.csv" | grep -vc '^age,')" = 6 ] || fail "split lost or added records"
"$CAIRN" data split "$work/t.csv" --out "$work/s2" --fractions 0.5,0.5 --stratify label --seed 4 > /dev/null
cmp -s "$work/s1/train.csv" "$work/s2/train.csv" || fail "same seed, different split"
awk 'BEGIN{print "id,label"; for(i=0;i<3000;i++) print i "," (i%3==0 ? "a" : "b")}' > "$work/big.csv"
"$CAIRN" data split "$work/big.csv" --out "$work/s3" --fractions 0.8,0.1,0.1 --stratify label --seed 1 > "$work/o6"
expect "$work/o6" "train.csv: 2400 records (a 800, b 1600)"
expect "$work/o6" "val.csv: 300 records (a 100, b 200)"
set +e
"$CAIRN" data split "$work/t.csv" --out "$work/s4" --fractions 0.5,0.6 > /dev/null 2> "$work/e2"; st=$?
"$CAIRN" data split "$work/t.csv" --out "$work/s4" --fractions 0.5,0.5 --stratify town > /dev/null 2> "$work/e3"; st2=$?
"$CAIRN" data split "$work/t.csv" --out "$work/s4" --fractions 0.5,0.5 --seeed 3 > /dev/null 2> "$work/e4"; st3=$?
set -e
[ $st -eq 2 ] && [ $st2 -eq 2 ] && [ $st3 -eq 2 ] || fail "bad split options exit 2 ($st $st2 $st3)"
expect "$work/e2" "must sum to 1"
expect "$work/e3" "no column 'town'"
expect "$work/e4" "did you mean --seed"
[ ! -e "$work/s4/train.csv" ] || fail "a failed split left files behind"

# ---- shard ----
"$CAIRN" data shard "$SHARED/data/tinyshakespeare.txt" --out "$work/sh" --tokenizer char --shard-size 500000 \
  --val-fraction 0.1 > "$work/o7"
expect "$work/o7" "1115394 tokens, char tokenizer with 65 ids (uint16 shards)"
ls "$work/sh"/train_*.bin > /dev/null && [ -f "$work/sh/val_000000.bin" ] && [ -f "$work/sh/tokenizer.json" ] || fail "shard files"
total=0
for f in "$work/sh"/*.bin; do
  "$CAIRN" data inspect "$f" > "$work/o8"
  expect "$work/o8" "dtype: uint16"
  n=$(sed -n 's/^tokens: //p' "$work/o8")
  total=$((total + n))
done
[ $total -eq 1115394 ] || fail "shards hold $total tokens, expected 1115394"
head -c 100000 "$SHARED/data/tinyshakespeare.txt" > "$work/small.txt"
"$CAIRN" data shard "$work/small.txt" --out "$work/shb" --tokenizer bpe --vocab-size 400 > "$work/o9"
expect "$work/o9" "bpe tokenizer with 400 ids (uint16 shards)"
set +e
"$CAIRN" data shard "$work/small.txt" --out "$work/shx" --tokenizer words > /dev/null 2> "$work/e5"; st=$?
"$CAIRN" data shard "$work/none.txt" --out "$work/shx" --tokenizer char > /dev/null 2> "$work/e6"; st2=$?
set -e
[ $st -eq 2 ] || fail "unknown tokenizer exits 2, got $st"
expect "$work/e5" "--tokenizer must be char or bpe"
[ $st2 -eq 1 ] || fail "missing input exits 1, got $st2"
expect "$work/e6" "none.txt"
echo "data_cmds_test: ok"
