#!/usr/bin/env bash
# The two BERT example configs end to end on a few steps: pretraining writes an encoder and its tokenizer, the
# classifier loads it (reporting what was loaded), from-scratch fine-tuning runs with the same recipe, and an
# encoder used with another vocabulary is refused with a message that names the fix, as is a bad layer_decay.
# Usage: bert_cli_test.sh PATH/TO/cairn
set -euo pipefail
CAIRN=$(realpath "$1")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${CAIRN_SHARED_DIR:-$ROOT/../shared}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$ROOT"
files="data.files={neg: $SHARED/data/rt-polarity.neg, pos: $SHARED/data/rt-polarity.pos}"
quick=(--set fit.epochs=1 --set fit.max_steps=2)

"$CAIRN" train examples/mr_bert_pretrain.yaml "${quick[@]}" --set "$files" --set outputs.dir="$work/pt" > "$work/pt.log"
grep -q "Pretrained 2 steps" "$work/pt.log"
test -s "$work/pt/encoder.safetensors" && test -s "$work/pt/tokenizer.json"

"$CAIRN" train examples/mr_bert_finetune.yaml "${quick[@]}" --set "$files" \
  --set model.pretrained="$work/pt/encoder.safetensors" --set outputs.dir="$work/ft" \
  --set model.attention_dropout=0.2 --set compile.optimizer.layer_decay=0.8 > "$work/ft.log"
grep -q "loaded 28 tensors; kept initialised (not in the file): head.weight, head.bias" "$work/ft.log"
grep -q "^Test: loss .*, accuracy " "$work/ft.log"

"$CAIRN" train examples/mr_bert_finetune.yaml "${quick[@]}" --set "$files" --set model.init=scratch \
  --set model.pretrained="$work/pt/encoder.safetensors" --set outputs.dir="$work/sc" > "$work/sc.log"
grep -q "random initialisation" "$work/sc.log"

# layer_decay outside (0, 1] is refused, naming the key.
if "$CAIRN" train examples/mr_bert_finetune.yaml "${quick[@]}" --set "$files" \
  --set model.pretrained="$work/pt/encoder.safetensors" --set outputs.dir="$work/ld" \
  --set compile.optimizer.layer_decay=1.5 > "$work/ld.log" 2>&1; then
  echo "expected a layer_decay error"; exit 1
fi
grep -q "layer_decay must be in (0, 1]" "$work/ld.log" || { cat "$work/ld.log"; exit 1; }

# The full BERT vocabulary is not the one the encoder was pretrained with.
if "$CAIRN" train examples/mr_bert_finetune.yaml "${quick[@]}" --set "$files" \
  --set model.pretrained="$work/pt/encoder.safetensors" --set outputs.dir="$work/bad" \
  --set "data.tokenizer={type: wordpiece, vocab: tests/golden/tokenizers/bert/vocab.txt}" > "$work/bad.log" 2>&1; then
  echo "expected a vocabulary mismatch error"; exit 1
fi
grep -q "another vocabulary" "$work/bad.log" || { cat "$work/bad.log"; exit 1; }
echo "bert_cli_test: ok"
