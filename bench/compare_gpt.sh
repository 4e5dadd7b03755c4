#!/usr/bin/env bash
# Side-by-side GPT training step: PyTorch (../shared/bench/torch_ref.py gpt) and Cairn (bench/gpt_bench train) on
# the same model (4 layers, 4 heads, width 128, context 64, vocab 65), batch 12, AdamW lr 1e-3, random tokens,
# 200 iterations and thread count, one after the other in one run; prints ms/iter for both and the speed-up.
# Also the CPU seconds of each whole process (PyTorch's include its ~2 s of start-up): on a machine shared with
# other jobs the wall-clock ratio swings with the load, the CPU ratio much less. Then Cairn's KV-cache
# generation latency (ms/token at context positions 8, 16, 32, 64, against re-running the whole window).
# Usage: bench/compare_gpt.sh [BUILD_DIR] [THREADS] [ITERS]
set -euo pipefail
build=${1:-build}
threads=${2:-2}
iters=${3:-200}
ref=$(cd "$(dirname "$0")/../.." && pwd)/shared/bench/torch_ref.py
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
torch_out=$(/usr/bin/time -f "%U %S" -o "$tmp" /usr/bin/python3 "$ref" gpt "$threads")   # always 200 iterations
torch_cpu=$(awk '{ print $1 + $2 }' "$tmp")
cairn_out=$(/usr/bin/time -f "%U %S" -o "$tmp" "$build/bench/gpt_bench" train "$threads" "$iters")
cairn_cpu=$(awk '{ print $1 + $2 }' "$tmp")
echo "  pytorch $torch_out  (process cpu ${torch_cpu}s)"
echo "  $cairn_out  (process cpu ${cairn_cpu}s)"
t=$(echo "$torch_out" | sed -n 's/^gpt: \([0-9.]*\) ms\/iter.*/\1/p')
c=$(echo "$cairn_out" | sed -n 's/^cairn gpt: \([0-9.]*\) ms\/iter.*/\1/p')
awk -v t="$t" -v c="$c" -v n="$threads" -v tc="$torch_cpu" -v cc="$cairn_cpu" -v it="$iters" \
  'BEGIN { printf "gpt train step (%d threads): pytorch %.1f ms/iter, cairn %.1f ms/iter, cairn is %.2fx faster (process cpu: %.2fx)\n",
           n, t, c, t / c, (tc / 200) / (cc / (it + 1)) }'
"$build/bench/gpt_bench" generate 1 50
