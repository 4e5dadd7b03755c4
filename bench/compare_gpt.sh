#!/usr/bin/env bash
# Side-by-side GPT training step: PyTorch (../shared/bench/torch_ref.py gpt) and Cairn (bench/gpt_bench train) on
# the same model (4 layers, 4 heads, width 128, context 64, vocab 65), batch 12, AdamW lr 1e-3, random tokens,
# 200 iterations and thread count. Cairn runs twice per round: float32 matmuls (matmul precision "highest", as
# PyTorch's run) and bfloat16 matmul operands with float32 accumulation ("medium", see
# src/cairn/core/kernels/precision.h). The three alternate for ROUNDS rounds and each side's best round counts:
# this 2-vCPU virtual machine has spells where its second core runs at about half speed, and alternating gives
# every side the same chance of clean rounds. Then Cairn's KV-cache generation latency (ms/token at context
# positions 8, 16, 32, 64, against re-running the whole window).
# Usage: bench/compare_gpt.sh [BUILD_DIR] [THREADS] [ROUNDS]
set -euo pipefail
build=${1:-build}
threads=${2:-2}
rounds=${3:-3}
ref=$(cd "$(dirname "$0")/../.." && pwd)/shared/bench/torch_ref.py
ms() { sed -n 's/^\(cairn \)\{0,1\}gpt: \([0-9.]*\) ms\/iter.*/\2/p'; }
lowest() { printf '%s\n' "$@" | grep -v '^$' | sort -g | head -1; }
t="" c32="" c16=""
for ((r = 1; r <= rounds; r++)); do
  torch_out=$(/usr/bin/python3 "$ref" gpt "$threads")  # always 200 iterations
  f32_out=$("$build/bench/gpt_bench" train "$threads" 200 highest)
  bf16_out=$("$build/bench/gpt_bench" train "$threads" 200 medium)
  echo "  round $r pytorch $torch_out"
  echo "  round $r $f32_out"
  echo "  round $r $bf16_out"
  t=$(lowest "$t" "$(echo "$torch_out" | ms)")
  c32=$(lowest "$c32" "$(echo "$f32_out" | ms)")
  c16=$(lowest "$c16" "$(echo "$bf16_out" | ms)")
done
awk -v t="$t" -v a="$c32" -v b="$c16" -v n="$threads" -v r="$rounds" \
  'BEGIN { printf "gpt train step (%d threads, best of %d alternating rounds): pytorch %.1f ms/iter; cairn float32 %.1f ms/iter = %.2fx faster; cairn bf16 matmuls %.1f ms/iter = %.2fx faster\n",
           n, r, t, a, t / a, b, t / b }'
"$build/bench/gpt_bench" generate 1 50
