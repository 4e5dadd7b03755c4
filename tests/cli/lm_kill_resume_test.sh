#!/usr/bin/env bash
# Kill a language-model `cairn train` abruptly (SIGKILL) between checkpoints, resume it, and check the result is
# bit-identical to an uninterrupted run: same final weights, same evaluation lines after the resume point.
# Usage: lm_kill_resume_test.sh PATH/TO/cairn
set -euo pipefail
CAIRN=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq 60); do printf 'the cat sat on the mat.\nhello world!\n'; done > "$work/corpus.txt"
cat > "$work/c.yaml" <<YAML
name: lmkill
seed: 11
threads: 1
data: {dataset: text_lm, path: $work/corpus.txt, tokenizer: char, val_fraction: 0.1, context: 16}
model: {type: gpt, layers: 1, heads: 2, width: 16, context: 16, dropout: 0.1}
compile:
  optimizer: {name: adamw, lr: 0.01, weight_decay: 0.1}
  schedule: {name: cosine, warmup_steps: 2, min_lr: 0.001}
fit: {steps: 12, batch_size: 4, eval_every: 4, eval_batches: 2}
outputs: {checkpoint_every_steps: 3}
YAML

"$CAIRN" train "$work/c.yaml" --set outputs.dir="$work/full" > "$work/full.out"

# Killed after step 7: the last checkpoint holds step 6.
set +e
CAIRN_TEST_KILL_AT_STEP=7 "$CAIRN" train "$work/c.yaml" --set outputs.dir="$work/part" > "$work/part1.out" 2>&1
status=$?
set -e
if [ "$status" -ne 137 ]; then echo "expected the run to die of SIGKILL (137), got $status"; cat "$work/part1.out"; exit 1; fi
test -f "$work/part/checkpoint.safetensors" || { echo "no checkpoint was written before the kill"; exit 1; }
test ! -f "$work/part/model.safetensors" || { echo "a killed run must not have saved its final model"; exit 1; }

"$CAIRN" train "$work/c.yaml" --set outputs.dir="$work/part" --set outputs.resume=true > "$work/part2.out"
grep -q "Resuming from" "$work/part2.out" || { echo "the second run did not resume"; cat "$work/part2.out"; exit 1; }

if ! cmp -s "$work/full/model.safetensors" "$work/part/model.safetensors"; then
  echo "resumed model differs from the uninterrupted one"; exit 1
fi
# Evaluations at steps 8 and 12 (losses only, not the timings) equal the uninterrupted run's.
strip() { grep -E '^step (8|12): train_loss' "$1" | sed 's/  (.*//'; }
if ! diff <(strip "$work/full.out") <(strip "$work/part2.out"); then echo "evaluation lines differ"; exit 1; fi
[ "$(strip "$work/full.out" | wc -l)" -eq 2 ] || { echo "expected evaluations at steps 8 and 12"; cat "$work/full.out"; exit 1; }
echo "lm kill/resume: final weights and evaluations identical (1 passed, 0 failed)"
