// The `cairn` command line:
//   cairn train CONFIG.yaml [--set key=value ...] [--threads N]
//   cairn evaluate MODEL [DATA]          DATA: a config's data section (CONFIG.yaml) or a dataset spec
//   cairn predict MODEL INPUT [--top K]  INPUT: an IDX file, a PNG/JPEG image, a CSV, or text / JSON Lines
//   cairn summary MODEL|CONFIG.yaml
//   cairn info                           threads, kernels, versions
//   cairn generate MODEL --prompt TEXT   sample text from a language model (see docs/language_models.md)
//   cairn data inspect|split|shard ...   look at, split and tokenize data files (see data_cmds.h, docs/data.md)
// Exit codes: 0 ok, 1 runtime failure (NaN loss, I/O), 2 bad usage or bad config.
#pragma once
#include <string>
#include <vector>

namespace cairn::cli {

int main(int argc, char** argv);
// The same, from a vector of arguments (argv[0] excluded); for tests.
int run(const std::vector<std::string>& args);

}  // namespace cairn::cli
