#!/usr/bin/env bash
# Does augmentation on the DataLoader's worker threads slow training? Per-step time of the reference CNN
# (bench/bench_loader.cpp) with Keras-style augmentation on loader workers vs the images already in memory.
#
#   bench/bench_loader.sh [BUILD_DIR] [STEPS_PER_ROUND] [ROUNDS]      defaults: build 200 3
#
# Configurations (compute threads + loader workers): 2+1 (fit's default on this 2-core machine), 2+2, 1+1.
# Run it on an idle machine: other load turns the ratio into noise (the script says so when it sees load).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
steps=${2:-200}
rounds=${3:-3}
case $build in /*) ;; *) build=$root/$build ;; esac
cmake --build "$build" --target bench_loader -j "${JOBS:-2}" >/dev/null
load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" -v n="$(nproc)" 'BEGIN { exit !(l > 0.25 * n) }'; then
  echo "warning: load average $load on $(nproc) cores; step times will include other jobs' CPU use" >&2
fi
for cfg in "2 1" "2 2" "1 1"; do
  set -- $cfg
  echo "== $1 compute thread(s), $2 loader worker(s)"
  "$build/bench/bench_loader" "$1" "$2" "$steps" "$rounds"
done
