#!/usr/bin/env bash
# Builds and runs the kernel benchmarks (bench/bench_kernels.cpp) at 2 threads: FP32 GEMM through cairn::matmul
# and through cblas_sgemm, conv2d for the reference CNN's layers, elementwise and reduction kernels, each as a
# share of this machine's measured peak. Extra arguments go to Google Benchmark (e.g. --benchmark_filter=Conv).
# Usage: bench/run_kernels.sh [BUILD_DIR] [benchmark args...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-bench
if [[ $# -gt 0 && $1 != --* ]]; then
  build=$1
  shift
fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCAIRN_BUILD_TESTS=OFF -DCAIRN_BUILD_BENCH=ON >/dev/null
cmake --build "$build" --target bench_kernels -j2
# OpenMP's default (spinning) wait policy is what users get; on a machine shared with other jobs the spinning
# turns every barrier into a lost timeslice, so run it when the machine is otherwise idle (the summary keeps
# each benchmark's best repetition).
exec "$build/bench/bench_kernels" --benchmark_color=false "$@"
