// The `data:` section of a config: which dataset, where, how to clean, split, balance and augment it, turned
// into tensors. docs/data.md describes every key; two examples:
//
//   data:                                   data:
//     dataset: fashion_mnist                  dataset: csv
//     split: {validation: 0.1, seed: 1}       path: patients.csv
//     augment: {rotation_range: 10,           label: diagnosis
//               horizontal_flip: true}        bad_rows: impute          # fail | skip | impute
//     workers: 2                              clean:
//                                               - impute: {strategy: median}
//                                               - standardize: {}
//                                             split: {validation: 0.1, test: 0.1, stratify: true, seed: 1}
//
// Kinds: fashion_mnist, idx, image_folder, csv, text, jsonl. Everything fitted to the data (cleaning steps, the
// text vocabulary, the categories of categorical columns) is fitted on the TRAINING split only, and recorded in
// LoadedData::preprocess, which the model file stores, so `cairn evaluate` and `cairn predict` apply exactly the
// same transform to new data.
#pragma once
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "cairn/cli/config.h"
#include "cairn/core/tensor/tensor.h"
#include "cairn/data/augment.h"

namespace cairn::data {
class Dataset;
}

namespace cairn::cli {

struct LoadedData {
  // x: float32 (N, C, H, W) images, float32 (N, F) tables, or int64 (N, T) token ids; y: int64 (N).
  Tensor x_train, y_train;
  Tensor x_val, y_val;    // from split.validation; undefined when not asked for
  Tensor x_test, y_test;  // the dataset's test files, or split.test; may be undefined
  std::vector<std::string> class_names;
  nlohmann::json preprocess;  // the fitted transform predict/evaluate must apply to raw inputs
  std::string description;    // one line for the log
  std::string report;         // what was read, fixed, dropped and split (multi-line), for the log
  int64_t vocab_size = 0;     // text: token ids are in [0, vocab_size) (Embedding input_dim >= this)

  // How the training examples are served (see training_dataset).
  data::AugmentOptions augment;  // images only
  std::string balance;           // "", "oversample" or "undersample"
  uint64_t seed = 0;             // for balance and augmentation
  int workers = -1;              // loader threads (-1: automatic, see data::LoaderOptions)
  int prefetch = 4;              // batches built ahead
};

// Reads the data section (keys checked strictly: an unknown key names its line and the valid keys).
// `fitted`: the preprocess recorded in a model file; when given, nothing is fitted: its transform is applied
// to every split (how `cairn evaluate MODEL` reproduces the training-time test set).
// Throws ConfigError for bad keys or values, data::DataError for bad files (naming file and line).
LoadedData load_data(const Config& data, const nlohmann::json* fitted = nullptr);

// The training examples {x, y} with the balance and augmentation of `d` applied (augmentation runs on the
// loader's threads, seeded per example, so results do not depend on the number of workers).
std::shared_ptr<const data::Dataset> training_dataset(const LoadedData& d);

// Raw inputs for `cairn predict`, turned into model inputs with a recorded preprocess:
//   images: an IDX file, or a PNG/JPEG (resized and converted to the recorded size and channels)
//   table:  a CSV with the training columns (the label column may be absent)
//   text:   a text file (one example per line) or JSON Lines (the recorded text key)
// Throws ValueError when the input does not fit the recorded kind.
Tensor prepare_inputs(const std::string& path, const nlohmann::json& preprocess);

// The texts of a `cairn predict` input: a text file (one example per non-blank line) or JSON Lines (strings, or
// objects with a string `text_key`), converted to UTF-8 as `encoding` says (auto | utf-8 | latin-1).
// Throws ValueError naming the file when a line is malformed or there is no text.
std::vector<std::string> texts_to_predict(const std::string& path, const std::string& text_key = "text",
                                          const std::string& encoding = "auto");

// Applies a recorded image preprocessing to raw uint8 images (N, H, W) or (N, C, H, W) -> float32 (N, C, H, W).
Tensor preprocess_images(const Tensor& raw_u8, const nlohmann::json& preprocess);

}  // namespace cairn::cli
