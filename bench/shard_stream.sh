#!/usr/bin/env bash
# A token shard larger than the process's memory limit, streamed for one full epoch through data::TokenShard
# and data::DataLoader (bench/shard_stream.cpp), every token checked.
#
#   bench/shard_stream.sh [BUILD_DIR] [SHARD_GB] [LIMIT_MIB]      defaults: build 2.5 1024
#
# Writes /tmp/cairn_shard_<GB>g.bin once (uint16 llm.c shard), then runs three epochs:
#   1. under `ulimit -v LIMIT_MIB` (RLIMIT_AS), cache dropped for the file first: the shard cannot be mapped
#      (a mapping reserves its whole size of address space), so TokenShard::open falls back to pread;
#   2. the same with the file in the page cache;
#   3. no limit, memory-mapped, for comparison.
# Each under /usr/bin/time -v: peak RSS is "Maximum resident set size". What the limit proves: the process never
# holds more than LIMIT_MIB of address space, so neither the shard nor a copy of it was ever in the process;
# the page cache (kernel memory, shared, reclaimable) still caches the file if the machine has room.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
gb=${2:-2.5}
limit_mib=${3:-1024}
case $build in /*) ;; *) build=$root/$build ;; esac

cmake --build "$build" --target shard_stream -j "${JOBS:-2}" >/dev/null
bin=$build/bench/shard_stream
tokens=$(awk -v g="$gb" 'BEGIN { printf "%d", g * 1e9 / 2 }')
shard=/tmp/cairn_shard_${gb}g.bin
if [ ! -f "$shard" ] || [ "$(stat -c %s "$shard")" != "$((1024 + 2 * tokens))" ]; then
  "$bin" write "$shard" "$tokens"
fi
echo "shard: $shard, $(stat -c %s "$shard") bytes; address-space limit ${limit_mib} MiB; $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"

run() {  # label, ulimit -v KiB or "unlimited", args...
  local label=$1 lim=$2
  shift 2
  echo "== $label"
  ( ulimit -v "$lim"; /usr/bin/time -v "$bin" read "$shard" "$@" ) 2>/tmp/cairn_shard_time.txt
  grep -E "Maximum resident|Elapsed|Exit status" /tmp/cairn_shard_time.txt | sed 's/^\s*/   /'
}
run "1: ulimit -v ${limit_mib} MiB, cold cache (pread fallback)" $((limit_mib * 1024)) --drop-cache
run "2: ulimit -v ${limit_mib} MiB, warm cache (pread fallback)" $((limit_mib * 1024))
run "3: no limit, mmap, warm cache" unlimited
echo "remove the shard with: rm $shard"
