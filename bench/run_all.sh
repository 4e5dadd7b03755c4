#!/usr/bin/env bash
# Every benchmark behind BENCHMARKS.md, in one run: kernels against the machine's measured peaks, then the
# side-by-side training figures against PyTorch (../shared/bench/torch_ref.py), the data-loader and CSV
# figures, and the larger-than-memory token shard. `make bench` runs it (after installing python3-torch).
# Run it on an otherwise idle machine: OpenMP's spinning barriers make 2-thread figures meaningless under load.
# Usage: bench/run_all.sh [BUILD_DIR] [THREADS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
threads=${2:-2}
case $build in /*) ;; *) build=$root/$build ;; esac
cmake --build "$build" -j2 >/dev/null

section() { printf '\n==== %s  (load %s)\n' "$1" "$(cut -d' ' -f1-3 /proc/loadavg)"; }

section "kernels"
"$build/bench/bench_kernels" --benchmark_color=false
section "training throughput: mlp, cnn (Fashion-MNIST)"
bash "$root/bench/compare_train.sh" "$build" "$threads" 2
section "training throughput: lstm"
bash "$root/bench/compare_lstm.sh" "$build" "$threads"
section "training step and generation: gpt"
bash "$root/bench/compare_gpt.sh" "$build" "$threads"
section "data loader: augmentation hidden behind the CNN's step"
bash "$root/bench/bench_loader.sh" "$build" 200 3
section "CSV parsing"
"$build/bench/bench_csv"
section "token shard larger than the memory limit"
bash "$root/bench/shard_stream.sh" "$build"
