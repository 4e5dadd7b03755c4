// Shrinking a WordPiece vocabulary to the pieces a corpus uses, for small encoders trained from scratch.
//
// BERT's uncased vocabulary has 30,522 pieces; a sentence-level corpus such as MR (~10k sentences) uses about a
// third of them, and an embedding row that never occurs in pretraining stays at its random initialisation. The
// pruned vocabulary keeps, in the original id order after the special tokens:
//   - the special tokens [PAD] [UNK] [CLS] [SEP] [MASK] present in the original (first, in that order, so [PAD]=0),
//   - every piece the original tokenizer produces on the corpus at least `min_count` times,
//   - for every character of the corpus, its single-character pieces ("c" and "##c") when the original has them,
//     so a word whose whole pieces were dropped (rare, or unseen in the corpus) is spelled with smaller pieces
//     instead of becoming [UNK].
// The result is a WordPieceTokenizer with the original's options (greedy longest-match over the smaller set).
//
//   auto full = WordPieceTokenizer::from_vocab_file("bert/vocab.txt");
//   WordPieceTokenizer small = prune_wordpiece_vocab(full, train_sentences, /*min_count=*/2);
//   small.save("mr_wordpiece.json");
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "cairn/text/wordpiece_tokenizer.h"

namespace cairn::text {

// Throws TokenizerError for min_count == 0 or text that is not UTF-8 (as encode()).
WordPieceTokenizer prune_wordpiece_vocab(const WordPieceTokenizer& full, const std::vector<std::string>& corpus,
                                         std::size_t min_count = 1);

// "wordpiece-9668-1f0e...": the tokenizer's type, size and a 64-bit FNV-1a hash of its tokens in id order. Stored
// with pretrained weights (nn::BertConfig::vocab_id) so an encoder is never used with ids of another vocabulary.
std::string vocab_fingerprint(const Tokenizer& tokenizer);

}  // namespace cairn::text
