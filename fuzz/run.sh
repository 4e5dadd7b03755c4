#!/usr/bin/env bash
# Builds a fuzzer (see `make fuzz`: clang + libFuzzer + ASan/UBSan) and runs it for a while.
#
#   fuzz/run.sh TARGET SECONDS [extra libFuzzer flags...]
#   fuzz/run.sh safetensors 600
#
# TARGET is the fuzzer's name with or without "_fuzz". Its seed corpus fuzz/corpus/<name>/ is
# read but never written: new inputs go to build-fuzz/corpus/<name>/ so the committed seeds stay
# small. fuzz/<name>.dict is used if present. Crashes are saved as build-fuzz/crashes/<name>/crash-*;
# reproduce one with `build-fuzz/fuzz/<name>_fuzz <file>`. The fuzzer runs as one process; the
# build uses JOBS=1 by default since the machine is shared (override with JOBS=n).
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 TARGET SECONDS [libFuzzer flags...]   (targets: $(cd "$(dirname "$0")" && ls *_fuzz.cpp | sed 's/_fuzz.cpp//' | tr '\n' ' '))" >&2
  exit 2
fi
name=${1%_fuzz}
seconds=$2
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)

if [ ! -f "$root/fuzz/${name}_fuzz.cpp" ]; then
  echo "$0: no fuzzer fuzz/${name}_fuzz.cpp" >&2
  exit 2
fi

# The first time, `make fuzz` installs clang/libFuzzer if missing, configures build-fuzz and builds
# every layer. Afterwards only this fuzzer and the layers it links are rebuilt, so work in progress
# elsewhere (core, nn, ...) neither slows nor breaks a fuzzing run.
if [ ! -f "$root/build-fuzz/CMakeCache.txt" ]; then
  make -C "$root" --no-print-directory fuzz JOBS="${JOBS:-1}"
else
  cmake --build "$root/build-fuzz" --target "${name}_fuzz" -j "${JOBS:-1}"
fi

bin="$root/build-fuzz/fuzz/${name}_fuzz"
work="$root/build-fuzz/corpus/$name"
crashes="$root/build-fuzz/crashes/$name"
mkdir -p "$work" "$crashes"
seeds=()
[ -d "$root/fuzz/corpus/$name" ] && seeds+=("$root/fuzz/corpus/$name")
dict=()
[ -f "$root/fuzz/$name.dict" ] && dict+=("-dict=$root/fuzz/$name.dict")
log="$root/build-fuzz/${name}_fuzz.log"

echo "running $bin for ${seconds}s (log: $log)"
set +e
"$bin" "$work" "${seeds[@]}" "${dict[@]}" -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$crashes/" "$@" 2>&1 | tee "$log" | grep -E --line-buffered '^#[0-9]+.*(INITED|DONE)|ERROR|SUMMARY|crash-|^Done'
status=${PIPESTATUS[0]}
set -e

execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
echo "target ${name}_fuzz: exit status $status, executions: ${execs:-unknown} in ${seconds}s"
if [ "$status" -ne 0 ]; then
  echo "the fuzzer found a problem: see $log and $crashes/" >&2
fi
exit "$status"
