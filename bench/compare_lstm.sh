#!/usr/bin/env bash
# Side-by-side training throughput of the `lstm` model (Embedding(10000, 32) -> LSTM(128) -> Dense(1), BCE on
# logits, Adam 1e-3, batch 32, 6400 random sequences of 200 tokens): PyTorch (../shared/bench/torch_ref.py) and
# Cairn (bench/bench_lstm), one after the other in one run, on the same thread count. Prints the ratio of the
# best epochs (Cairn runs 2 epochs; the first pays for warm-up).
# Usage: bench/compare_lstm.sh [BUILD_DIR] [THREADS]
set -euo pipefail
build=${1:-build}
threads=${2:-2}
ref=$(cd "$(dirname "$0")/../.." && pwd)/shared/bench/torch_ref.py
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
torch_out=$(/usr/bin/python3 "$ref" lstm "$threads")
cairn_out=$("$build/bench/bench_lstm" "$threads" 2)
echo "$torch_out" | sed 's/^/  pytorch /'
echo "$cairn_out" | sed 's/^/  cairn   /'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
t=$(echo "$torch_out" | sed -n 's/.* \([0-9]*\) samples\/s.*/\1/p' | sort -n | tail -1)
c=$(echo "$cairn_out" | sed -n 's/.* \([0-9]*\) samples\/s.*/\1/p' | sort -n | tail -1)
awk -v t="$t" -v c="$c" -v n="$threads" \
  'BEGIN { printf "lstm, %d threads: pytorch %d samples/s, cairn %d samples/s, ratio %.2fx\n", n, t, c, c / t }'
