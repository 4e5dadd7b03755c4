#!/usr/bin/env bash
# The two BERT example configs end to end on a few steps: pretraining writes an encoder and its tokenizer, the
# classifier loads it (reporting what was loaded), from-scratch fine-tuning runs with the same recipe, and an
# encoder used with another vocabulary is refused with a message that names the fix, as is a bad layer_decay, ema_momentum or data_parallel.
# The classifier file is self-contained: `cairn evaluate` reproduces the run's test figures from it alone and
# `cairn predict` classifies new sentences (`cairn summary` prints the layer table); an encoder file given to
# evaluate or predict says what to do instead. Adding a validation split leaves the test split where it was, and
# an ensemble (encoders x seeds, each restored to its best validation epoch) is one file the same commands read.
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

"$CAIRN" train examples/mr_bert_pretrain.yaml "${quick[@]}" --set "$files" --set outputs.dir="$work/pt" \
  --set fit.data_parallel=2 > "$work/pt.log"
grep -q "Pretrained 2 steps" "$work/pt.log"
test -s "$work/pt/encoder.safetensors" && test -s "$work/pt/tokenizer.json"

"$CAIRN" train examples/mr_bert_finetune.yaml "${quick[@]}" --set "$files" \
  --set model.pretrained="$work/pt/encoder.safetensors" --set outputs.dir="$work/ft" \
  --set model.attention_dropout=0.2 --set compile.optimizer.layer_decay=0.8 \
  --set compile.optimizer.ema_momentum=0.9 > "$work/ft.log"
grep -q "loaded 28 tensors; kept initialised (not in the file): head.weight, head.bias" "$work/ft.log"
grep -q "^Test: loss .*, accuracy " "$work/ft.log"

# evaluate: the same test loss and accuracy as the run printed ("Test: loss 0.6898, accuracy 0.5338 (1066 ...").
read -r loss acc < <(sed -n 's/^Test: loss \([0-9.]*\), accuracy \([0-9.]*\) .*/\1 \2/p' "$work/ft.log")
"$CAIRN" evaluate "$work/ft/classifier.safetensors" > "$work/ev.log"
grep -q "on the test split (1066 sentences)" "$work/ev.log" || { cat "$work/ev.log"; exit 1; }
grep -Eq "^  loss +$loss\$" "$work/ev.log" || { echo "evaluate's loss is not the run's $loss"; cat "$work/ev.log"; exit 1; }
grep -Eq "^  accuracy +$acc\$" "$work/ev.log" || { echo "evaluate's accuracy is not the run's $acc"; cat "$work/ev.log"; exit 1; }
grep -q "Confusion matrix" "$work/ev.log"

# predict: one line per sentence (a latin-1 byte included), both classes, probabilities summing to 1.
printf 'a gripping , beautifully acted film\n\nthe dullest movie of the year\ncaf\xe9 society\n' > "$work/in.txt"
"$CAIRN" predict "$work/ft/classifier.safetensors" "$work/in.txt" --top 2 > "$work/pr.log"
test "$(wc -l < "$work/pr.log")" = 3 || { cat "$work/pr.log"; exit 1; }
awk '{ if ($1 != (NR - 1) ":" || !(/ neg \(/ && / pos \(/)) exit 1; gsub(/[()]/, ""); s = $3 + $5;
       if (s < 0.999 || s > 1.001) exit 1 }' "$work/pr.log" || { cat "$work/pr.log"; exit 1; }

set +e; "$CAIRN" predict "$work/ft/classifier.safetensors" "$work/in.txt" --top 0 2> "$work/top.log"; rc=$?; set -e
test "$rc" = 2 && grep -q "\-\-top and \-\-limit must be at least 1" "$work/top.log" || { echo "rc $rc"; cat "$work/top.log"; exit 1; }

# summary reads both kinds of file: the classifier (encoder, dropout, head) and the pretraining run's encoder,
# with every layer's output shape.
"$CAIRN" summary "$work/ft/classifier.safetensors" > "$work/sum.log"
grep -q "bert_encoder (BertEncoder) *(None, 64, 128)" "$work/sum.log" && grep -q "(Dropout) *(None, 128) " "$work/sum.log" &&
  grep -q "(None, 2)" "$work/sum.log" && ! grep -q " ? " "$work/sum.log" || { cat "$work/sum.log"; exit 1; }
"$CAIRN" summary "$work/pt/encoder.safetensors" > "$work/sum_pt.log"
grep -q "^Total params: " "$work/sum_pt.log" && grep -q "(BertMlmHead) *(None, 64, [0-9]*)" "$work/sum_pt.log" &&
  ! grep -q " ? " "$work/sum_pt.log" || { echo "summary of the encoder failed"; cat "$work/sum_pt.log"; exit 1; }

# An encoder is not a classifier.
if "$CAIRN" predict "$work/pt/encoder.safetensors" "$work/in.txt" > "$work/enc.log" 2>&1; then
  echo "expected predict on an encoder to fail"; exit 1
fi
grep -q "is a pretrained BERT encoder, not a classifier: fine-tune it" "$work/enc.log" || { cat "$work/enc.log"; exit 1; }

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
# So is ema_momentum outside [0, 1), and ema_momentum while pretraining.
if "$CAIRN" train examples/mr_bert_finetune.yaml "${quick[@]}" --set "$files" \
  --set model.pretrained="$work/pt/encoder.safetensors" --set outputs.dir="$work/ema" \
  --set compile.optimizer.ema_momentum=1 > "$work/ema.log" 2>&1; then
  echo "expected an ema_momentum error"; exit 1
fi
grep -q "ema_momentum must be in \[0, 1)" "$work/ema.log" || { cat "$work/ema.log"; exit 1; }
if "$CAIRN" train examples/mr_bert_pretrain.yaml "${quick[@]}" --set "$files" --set outputs.dir="$work/ema2" \
  --set compile.optimizer.ema_momentum=0.9 > "$work/ema2.log" 2>&1; then
  echo "expected ema_momentum to be refused for pretraining"; exit 1
fi
grep -q "ema_momentum is for fine-tuning" "$work/ema2.log" || { cat "$work/ema2.log"; exit 1; }

# A negative data_parallel names the key.
if "$CAIRN" train examples/mr_bert_finetune.yaml "${quick[@]}" --set "$files" \
  --set model.pretrained="$work/pt/encoder.safetensors" --set outputs.dir="$work/dp" \
  --set fit.data_parallel=-1 > "$work/dp.log" 2>&1; then
  echo "expected a data_parallel error"; exit 1
fi
grep -q "fit: data_parallel must be >= 0" "$work/dp.log" || { cat "$work/dp.log"; exit 1; }

# The full BERT vocabulary is not the one the encoder was pretrained with.
if "$CAIRN" train examples/mr_bert_finetune.yaml "${quick[@]}" --set "$files" \
  --set model.pretrained="$work/pt/encoder.safetensors" --set outputs.dir="$work/bad" \
  --set "data.tokenizer={type: wordpiece, vocab: tests/golden/tokenizers/bert/vocab.txt}" > "$work/bad.log" 2>&1; then
  echo "expected a vocabulary mismatch error"; exit 1
fi
grep -q "another vocabulary" "$work/bad.log" || { cat "$work/bad.log"; exit 1; }
# The test split does not move when a validation split is added: the classifier trained without one evaluates to
# the same figures on a data section with validation 0.09 (carved from the training part).
cat > "$work/val.yaml" <<EOF
data:
  dataset: text
  files: {neg: $SHARED/data/rt-polarity.neg, pos: $SHARED/data/rt-polarity.pos}
  encoding: latin-1
  split: {test: 0.1, validation: 0.09, stratify: true, seed: 2005}
  max_length: 64
EOF
"$CAIRN" evaluate "$work/ft/classifier.safetensors" "$work/val.yaml" > "$work/ev_val.log"
grep -Eq "^  accuracy +$acc\$" "$work/ev_val.log" || { echo "the test split moved with validation"; cat "$work/ev_val.log"; exit 1; }

# An ensemble over two encoders, two seeds each, every member restored to its best validation epoch: one file
# that evaluate, predict and summary read, whose test figures are the averaged probabilities'.
"$CAIRN" train examples/mr_bert_pretrain.yaml "${quick[@]}" --set "$files" --set seed=2 --set outputs.dir="$work/pt2" > /dev/null
"$CAIRN" train examples/mr_bert_finetune.yaml --set fit.epochs=2 --set fit.max_steps=4 --set "$files" \
  --set "model.pretrained=[$work/pt/encoder.safetensors, $work/pt2/encoder.safetensors]" --set fit.ensemble=2 \
  --set data.split.validation=0.09 --set fit.restore_best_weights=true --set outputs.dir="$work/ens" > "$work/ens.log"
grep -q "8636 train, 960 validation, 1066 test" "$work/ens.log" || { cat "$work/ens.log"; exit 1; }
test "$(grep -c "^Restored the weights of epoch [12] (best val_accuracy" "$work/ens.log")" = 4 || { cat "$work/ens.log"; exit 1; }
grep -q "== classifier 4 of 4 (seed 2, encoder $work/pt2/encoder.safetensors)" "$work/ens.log" || { cat "$work/ens.log"; exit 1; }
grep -q "== ensemble of 4 classifiers" "$work/ens.log" && grep -q "^Validation: accuracy " "$work/ens.log" || { cat "$work/ens.log"; exit 1; }
read -r loss acc < <(sed -n '/== ensemble of 4/,$ s/^Test: loss \([0-9.]*\), accuracy \([0-9.]*\) .*/\1 \2/p' "$work/ens.log")
"$CAIRN" evaluate "$work/ens/classifier.safetensors" > "$work/ens_ev.log"
grep -q "(an ensemble of 4 classifiers) on the test split (1066 sentences)" "$work/ens_ev.log" || { cat "$work/ens_ev.log"; exit 1; }
grep -Eq "^  loss +$loss\$" "$work/ens_ev.log" && grep -Eq "^  accuracy +$acc\$" "$work/ens_ev.log" ||
  { echo "evaluate does not give the ensemble's $loss / $acc"; cat "$work/ens_ev.log"; exit 1; }
"$CAIRN" predict "$work/ens/classifier.safetensors" "$work/in.txt" --top 2 > "$work/ens_pr.log"
awk '{ gsub(/[()]/, ""); s = $3 + $5; if (s < 0.999 || s > 1.001) exit 1 }' "$work/ens_pr.log" || { cat "$work/ens_pr.log"; exit 1; }
"$CAIRN" summary "$work/ens/classifier.safetensors" | grep -q "^An ensemble of 4 classifiers like this one" || { echo "summary"; exit 1; }

# fit.distill: the ensemble teaches one classifier, which is the file written (a single classifier) and whose
# test figures evaluate prints; without an ensemble to learn from it is refused.
"$CAIRN" train examples/mr_bert_finetune.yaml --set fit.epochs=1 --set fit.max_steps=2 --set "$files" \
  --set model.pretrained="$work/pt/encoder.safetensors" --set fit.ensemble=2 \
  --set "fit.distill={alpha: 0.7, temperature: 3}" --set outputs.dir="$work/dist" > "$work/dist.log"
grep -q "== one classifier distilled from the ensemble (alpha 0.7, temperature 3)" "$work/dist.log" || { cat "$work/dist.log"; exit 1; }
read -r loss acc < <(sed -n '/== one classifier distilled/,$ s/^Test: loss \([0-9.]*\), accuracy \([0-9.]*\) .*/\1 \2/p' "$work/dist.log")
"$CAIRN" evaluate "$work/dist/classifier.safetensors" > "$work/dist_ev.log"
grep -Eq "^  loss +$loss\$" "$work/dist_ev.log" && grep -Eq "^  accuracy +$acc\$" "$work/dist_ev.log" &&
  ! grep -q "an ensemble" "$work/dist_ev.log" || { echo "evaluate does not give the student's $loss / $acc"; cat "$work/dist_ev.log"; exit 1; }
if "$CAIRN" train examples/mr_bert_finetune.yaml "${quick[@]}" --set "$files" --set "fit.distill={alpha: 0.5}" \
  --set model.pretrained="$work/pt/encoder.safetensors" --set outputs.dir="$work/dist1" > "$work/dist1.log" 2>&1; then
  echo "expected distill without an ensemble to be refused"; exit 1
fi
grep -q "distill trains one classifier on an ensemble's soft targets" "$work/dist1.log" || { cat "$work/dist1.log"; exit 1; }

# An encoder of another vocabulary in the list is refused before any classifier is trained.
"$CAIRN" train examples/mr_bert_pretrain.yaml "${quick[@]}" --set "$files" --set data.tokenizer.min_count=1 \
  --set outputs.dir="$work/pt_other" > /dev/null
if "$CAIRN" train examples/mr_bert_finetune.yaml "${quick[@]}" --set "$files" --set fit.ensemble=2 \
  --set "model.pretrained=[$work/pt/encoder.safetensors, $work/pt_other/encoder.safetensors]" \
  --set outputs.dir="$work/mix" > "$work/mix.log" 2>&1; then
  echo "expected a vocabulary error for the second encoder"; exit 1
fi
grep -q "every encoder of a list must share it" "$work/mix.log" && ! grep -q "^Fine-tuned" "$work/mix.log" ||
  { cat "$work/mix.log"; exit 1; }

# restore_best_weights needs a validation split; ensemble is not a pretraining option.
if "$CAIRN" train examples/mr_bert_finetune.yaml "${quick[@]}" --set "$files" --set data.split.validation=0 \
  --set model.pretrained="$work/pt/encoder.safetensors" --set outputs.dir="$work/rb" > "$work/rb.log" 2>&1; then
  echo "expected a restore_best_weights error"; exit 1
fi
grep -q "restore_best_weights needs a validation split" "$work/rb.log" || { cat "$work/rb.log"; exit 1; }
if "$CAIRN" train examples/mr_bert_pretrain.yaml "${quick[@]}" --set "$files" --set fit.ensemble=2 \
  --set outputs.dir="$work/pe" > "$work/pe.log" 2>&1; then
  echo "expected an ensemble error for pretraining"; exit 1
fi
grep -q "ensemble is for fine-tuning" "$work/pe.log" || { cat "$work/pe.log"; exit 1; }
echo "bert_cli_test: ok"
