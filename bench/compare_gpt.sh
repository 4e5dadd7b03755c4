#!/usr/bin/env bash
# Side-by-side GPT training step: PyTorch (../shared/bench/torch_ref.py gpt) and Cairn (bench/gpt_bench train) on
# the same model (4 layers, 4 heads, width 128, context 64, vocab 65), batch 12, AdamW lr 1e-3, random tokens,
# 200 iterations and thread count (Cairn's step runs the batch as one part per thread, at once, as `cairn train`
# does: src/cairn/train/data_parallel.h), each side twice per round: in float32 (PyTorch's reference as it is; Cairn at
# matmul precision "highest") and with bfloat16 matmuls (PyTorch under torch.autocast, bench/torch_gpt_autocast.py;
# Cairn at matmul precision "medium", see src/cairn/core/kernels/precision.h). Ratios are like for like. The four
# runs alternate for ROUNDS rounds and each one's best round counts:
# this 2-vCPU virtual machine has spells where its second core runs at about half speed, and alternating gives
# every side the same chance of clean rounds. Then Cairn's KV-cache generation latency (ms/token at context
# positions 8, 16, 32, 64, against re-running the whole window).
# Usage: bench/compare_gpt.sh [BUILD_DIR] [THREADS] [ROUNDS]
set -euo pipefail
build=${1:-build}
threads=${2:-2}
rounds=${3:-3}
ref=$(cd "$(dirname "$0")/../.." && pwd)/shared/bench/torch_ref.py
autocast=$(dirname "$0")/torch_gpt_autocast.py
ms() { sed -n 's/^\(cairn \)\{0,1\}gpt\( autocast bf16\)\{0,1\}: \([0-9.]*\) ms\/iter.*/\3/p'; }
lowest() { printf '%s\n' "$@" | grep -v '^$' | sort -g | head -1; }
t32="" t16="" c32="" c16=""
for ((r = 1; r <= rounds; r++)); do
  torch_out=$(/usr/bin/python3 "$ref" gpt "$threads")  # always 200 iterations
  torch16_out=$(/usr/bin/python3 "$autocast" "$threads")
  f32_out=$("$build/bench/gpt_bench" train "$threads" 200 highest)
  bf16_out=$("$build/bench/gpt_bench" train "$threads" 200 medium)
  echo "  round $r pytorch $torch_out"
  echo "  round $r pytorch $torch16_out"
  echo "  round $r $f32_out"
  echo "  round $r $bf16_out"
  t32=$(lowest "$t32" "$(echo "$torch_out" | ms)")
  t16=$(lowest "$t16" "$(echo "$torch16_out" | ms)")
  c32=$(lowest "$c32" "$(echo "$f32_out" | ms)")
  c16=$(lowest "$c16" "$(echo "$bf16_out" | ms)")
done
awk -v t32="$t32" -v t16="$t16" -v c32="$c32" -v c16="$c16" -v n="$threads" -v r="$rounds" \
  'BEGIN { printf "gpt train step (%d threads, best of %d alternating rounds):\n", n, r;
           printf "  float32:         pytorch %.1f ms/iter, cairn %.1f ms/iter: cairn is %.2fx faster\n", t32, c32, t32 / c32;
           printf "  bfloat16 matmul: pytorch %.1f ms/iter (autocast), cairn %.1f ms/iter (medium): cairn is %.2fx faster\n", t16, c16, t16 / c16 }'
"$build/bench/gpt_bench" generate 1 50
