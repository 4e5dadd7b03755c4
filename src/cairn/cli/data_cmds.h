// `cairn data`: look at and prepare data files before training.
//   cairn data inspect FILE_OR_DIR [--label COL] [--json]
//       CSV, JSON Lines, text lines, IDX, token shards (.bin) and image folders: schema and types, counts, missing
//       values per column, class balance, duplicates, numeric summaries.
//   cairn data split FILE --out DIR --fractions 0.8,0.1,0.1 [--stratify COL] [--seed S]
//       CSV (header kept in every part), JSON Lines or text lines into train/val/test files, written atomically.
//   cairn data shard TEXT_FILE --out DIR --tokenizer char|bpe [--vocab F --merges F | --vocab-size N]
//                    [--shard-size N] [--val-fraction F] [--chunk-bytes N]
//       token shards in llm.c's format (uint16 ids when the vocabulary fits, else uint32) and DIR/tokenizer.json;
//       the corpus is streamed --chunk-bytes at a time (the output does not depend on the chunk size).
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "cairn/cli/commands.h"

namespace cairn::cli {

int cmd_data(const std::vector<std::string>& args);
int cmd_data_inspect(const std::vector<std::string>& args);
int cmd_data_split(const std::vector<std::string>& args);
int cmd_data_shard(const std::vector<std::string>& args);

// The summary `data inspect` prints, as JSON. Throws data::DataError for a missing or unreadable input.
nlohmann::ordered_json inspect_path(const std::string& path, const std::string& label = "", char delimiter = ',');

}  // namespace cairn::cli
