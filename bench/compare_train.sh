#!/usr/bin/env bash
# Side-by-side training throughput: PyTorch (../shared/bench/torch_ref.py) and Cairn (bench/train_ref) on the
# same model, batch, optimizer and thread count, one after the other in one run. Prints the ratio per model.
# Usage: bench/compare_train.sh [BUILD_DIR] [THREADS] [EPOCHS]
set -euo pipefail
build=${1:-build}
threads=${2:-2}
epochs=${3:-2}
ref=$(cd "$(dirname "$0")/../.." && pwd)/shared/bench/torch_ref.py
for model in mlp cnn; do
  torch_out=$(/usr/bin/python3 "$ref" "$model" "$threads" "$epochs")
  cairn_out=$("$build/bench/train_ref" "$model" "$threads" "$epochs")
  echo "$torch_out" | sed 's/^/  pytorch /'
  echo "$cairn_out" | sed 's/^/  cairn   /'
  # Best epoch of each (the first epoch pays for warm-up on both sides).
  t=$(echo "$torch_out" | sed -n 's/.* \([0-9]*\) samples\/s.*/\1/p' | sort -n | tail -1)
  c=$(echo "$cairn_out" | sed -n 's/.* \([0-9]*\) samples\/s.*/\1/p' | sort -n | tail -1)
  awk -v m="$model" -v t="$t" -v c="$c" 'BEGIN { printf "%s: pytorch %d samples/s, cairn %d samples/s, ratio %.2fx\n", m, t, c, c / t }'
done
