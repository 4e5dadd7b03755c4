// Internal to the `data:` section readers (datasets*.cpp): the split plan shared by every kind and the
// per-kind loaders. Not a public header.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "cairn/cli/datasets.h"

namespace cairn::cli::detail_data {

// split: {validation: 0.1, test: 0.1, stratify: true, seed: 1}
struct SplitSpec {
  double validation = 0, test = 0;
  bool stratify = false;
  uint64_t seed = 0;
};
SplitSpec parse_split(const Config& d, uint64_t default_seed);
// Indices of the training, validation and test parts of n examples (stratified by labels when asked).
std::array<std::vector<int64_t>, 3> plan_split(int64_t n, const std::vector<int64_t>& labels, const SplitSpec& s);
// Rows `idx` of t (a copy); an undefined tensor when idx is empty.
Tensor take_rows(const Tensor& t, const std::vector<int64_t>& idx);
// "N train / N validation / N test" for the report.
std::string split_line(int64_t train, int64_t val, int64_t test);
// Class counts, e.g. "neg 5331, pos 5331".
std::string class_counts(const Tensor& y, const std::vector<std::string>& names);

// The kinds. Each fills x/y of every split, class_names, preprocess, description and report; `fitted` (from a
// model file) replaces fitting. Keys shared by all kinds (split, balance, augment, workers, prefetch, seed) are
// read by load_data.
void load_table_kind(const Config& d, const std::string& kind, const nlohmann::json* fitted, const SplitSpec& split,
                     LoadedData& out);
void load_text_kind(const Config& d, const std::string& kind, const nlohmann::json* fitted, const SplitSpec& split,
                    LoadedData& out);
void load_image_kind(const Config& d, const std::string& kind, const SplitSpec& split, LoadedData& out);

// predict's raw inputs per recorded kind.
Tensor table_inputs(const std::string& path, const nlohmann::json& preprocess);
Tensor text_inputs(const std::string& path, const nlohmann::json& preprocess);
Tensor image_inputs(const std::string& path, const nlohmann::json& preprocess);

// Keys every kind accepts (dataset, split, balance, augment, workers, prefetch, seed, limit).
extern const std::vector<std::string> kSharedKeys;
// Throws ConfigError naming the first key of `d` that is neither shared nor in `kind_keys` (line, hint, list).
void check_kind_keys(const Config& d, const std::string& kind, const std::vector<std::string>& kind_keys);

}  // namespace cairn::cli::detail_data
