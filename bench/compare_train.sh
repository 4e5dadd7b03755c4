#!/usr/bin/env bash
# Side-by-side training throughput: PyTorch (../shared/bench/torch_ref.py) and Cairn (bench/train_ref) on the
# same model, batch, optimizer and thread count, in one run. The two alternate for ROUNDS rounds and each side's
# best epoch counts: this 2-vCPU virtual machine has spells of up to minutes where the second core runs at about
# half speed, and alternating gives both sides the same chance of clean epochs. Prints the ratio per model.
# Usage: bench/compare_train.sh [BUILD_DIR] [THREADS] [EPOCHS] [ROUNDS] [MODELS]
set -euo pipefail
build=${1:-build}
threads=${2:-2}
epochs=${3:-2}
rounds=${4:-3}
models=${5:-mlp cnn}
ref=$(cd "$(dirname "$0")/../.." && pwd)/shared/bench/torch_ref.py
best() { sed -n 's/.* \([0-9]*\) samples\/s.*/\1/p' | sort -n | tail -1; }
for model in $models; do
  t=0 c=0
  for ((r = 1; r <= rounds; r++)); do
    torch_out=$(/usr/bin/python3 "$ref" "$model" "$threads" "$epochs")
    cairn_out=$("$build/bench/train_ref" "$model" "$threads" "$epochs")
    echo "$torch_out" | sed "s/^/  round $r pytorch /"
    echo "$cairn_out" | sed "s/^/  round $r cairn   /"
    t=$(printf '%s\n%s\n' "$t" "$(echo "$torch_out" | best)" | sort -n | tail -1)
    c=$(printf '%s\n%s\n' "$c" "$(echo "$cairn_out" | best)" | sort -n | tail -1)
  done
  awk -v m="$model" -v t="$t" -v c="$c" -v r="$rounds" \
    'BEGIN { printf "%s: pytorch %d samples/s, cairn %d samples/s (best epochs of %d alternating rounds), ratio %.2fx\n", m, t, c, r, c / t }'
done
