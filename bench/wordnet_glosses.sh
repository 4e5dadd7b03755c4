#!/usr/bin/env bash
# Extra general-English pretraining text for bench/mr_bert (`--extra-corpus`): one line per WordNet synset,
# "lemma, lemma: gloss; example sentence", from Debian's wordnet-base (Princeton WordNet 3.0, 117,659 synsets).
#   bash bench/wordnet_glosses.sh [WORDNET_DIR] > glosses.txt
set -euo pipefail
dir=${1:-/usr/share/wordnet}
for pos in noun verb adj adv; do
  f="$dir/data.$pos"
  [[ -r $f ]] || { echo "cannot read $f: install the Debian package wordnet-base (or pass its directory)" >&2; exit 1; }
  # Data lines start with an 8-digit offset (the licence header starts with spaces). Field 4 is the lemma
  # count in hex, lemmas and lex ids alternate from field 5; the gloss follows " | ".
  awk '/^[0-9]/ {
    n = 0; h = tolower($4)
    for (i = 1; i <= length(h); i++) n = n * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
    words = ""
    for (i = 0; i < n; i++) { w = $(5 + 2 * i); sub(/\([a-z]+\)$/, "", w); gsub(/_/, " ", w)
                              words = words (i ? ", " : "") w }
    g = $0; sub(/^[^|]*\| /, "", g); gsub(/"/, "", g); sub(/[ \t]+$/, "", g)
    print words ": " g
  }' "$f"
done
