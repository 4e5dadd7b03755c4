// The `data:` section: keys shared by every kind (split, balance, augment, loader), dispatch to the kinds
// (datasets_images.cpp, datasets_table.cpp, datasets_text.cpp), and the training Dataset built from it.
#include "cairn/cli/datasets.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>

#include "cairn/cli/datasets_detail.h"
#include "cairn/core/ops/ops.h"
#include "cairn/data/dataset.h"

namespace cairn::cli {
namespace detail_data {

const std::vector<std::string> kSharedKeys = {"dataset", "split", "balance", "augment", "workers", "prefetch", "seed", "limit"};

void check_kind_keys(const Config& d, const std::string& kind, const std::vector<std::string>& kind_keys) {
  std::vector<std::string> valid = kSharedKeys;
  valid.insert(valid.end(), kind_keys.begin(), kind_keys.end());
  for (const std::string& k : d.keys()) {
    if (std::find(valid.begin(), valid.end(), k) != valid.end()) continue;
    std::string list, hint = closest(k, valid);
    for (const auto& v : valid) list += (list.empty() ? "" : ", ") + v;
    d.fail("unknown key '" + k + "' for dataset " + kind + (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
               "; valid keys: " + list,
           k);
  }
}

SplitSpec parse_split(const Config& d, uint64_t default_seed) {
  SplitSpec s;
  s.seed = default_seed;
  if (!d.has("split")) return s;
  Config c = d.section("split");
  c.check_keys({"validation", "test", "stratify", "seed"});
  s.validation = c.get<double>("validation", 0.0);
  s.test = c.get<double>("test", 0.0);
  s.stratify = c.get<bool>("stratify", false);
  s.seed = c.get<uint64_t>("seed", default_seed);
  if (s.validation < 0 || s.validation >= 1) c.fail("validation must be a fraction in [0, 1), e.g. 0.1", "validation");
  if (s.test < 0 || s.test >= 1) c.fail("test must be a fraction in [0, 1), e.g. 0.1", "test");
  if (s.validation + s.test >= 1) c.fail("validation + test must leave some training examples (sum < 1)");
  return s;
}

std::array<std::vector<int64_t>, 3> plan_split(int64_t n, const std::vector<int64_t>& labels, const SplitSpec& s) {
  if (s.validation == 0 && s.test == 0) {
    std::vector<int64_t> all(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) all[i] = i;
    return {all, {}, {}};
  }
  // The training part last: split_indices gives the last part the remainder.
  auto parts = data::split_indices(n, {s.validation, s.test, 1.0 - s.validation - s.test}, s.seed,
                                   s.stratify ? &labels : nullptr);
  return {parts[2], parts[0], parts[1]};
}

Tensor take_rows(const Tensor& t, const std::vector<int64_t>& idx) {
  if (idx.empty() || !t.defined()) return Tensor();
  return index_select(t, 0, from_vector(idx)).contiguous();
}

std::string split_line(int64_t train, int64_t val, int64_t test) {
  std::string s = "split: " + std::to_string(train) + " training";
  if (val) s += ", " + std::to_string(val) + " validation";
  if (test) s += ", " + std::to_string(test) + " test";
  return s + " examples\n";
}

std::string class_counts(const Tensor& y, const std::vector<std::string>& names) {
  std::map<int64_t, int64_t> counts;
  for (int64_t v : y.to_vector<int64_t>()) counts[v]++;
  std::string s;
  for (auto [k, n] : counts) {
    std::string name = k >= 0 && k < static_cast<int64_t>(names.size()) ? names[k] : std::to_string(k);
    s += (s.empty() ? "" : ", ") + name + " " + std::to_string(n);
  }
  return s;
}

}  // namespace detail_data

using namespace detail_data;

Tensor preprocess_images(const Tensor& raw, const nlohmann::json& pp) {
  Tensor x = raw;
  if (x.dim() == 3) x = unsqueeze(x, 1);  // (N, H, W) -> (N, 1, H, W)
  CAIRN_CHECK(x.dim() == 4, ShapeError, "images must be (N, H, W) or (N, C, H, W), got ", shape_str(raw.shape()));
  const double scale = pp.value("scale", 1.0), shift = pp.value("shift", 0.0);
  Tensor f = x.to(DType::f32);
  if (scale != 1.0) f = mul(f, scale);
  if (shift != 0.0) f = add(f, shift);
  return f.contiguous();
}

namespace {

data::AugmentOptions parse_augment(const Config& c) {
  c.check_keys({"rotation_range", "width_shift_range", "height_shift_range", "zoom_range", "horizontal_flip", "fill_mode",
                "cval", "crop_padding", "brightness_delta", "contrast_range"});
  data::AugmentOptions o;
  o.rotation_range = c.get<double>("rotation_range", 0);
  o.width_shift_range = c.get<double>("width_shift_range", 0);
  o.height_shift_range = c.get<double>("height_shift_range", 0);
  o.zoom_range = c.get<double>("zoom_range", 0);
  o.horizontal_flip = c.get<bool>("horizontal_flip", false);
  o.fill_mode = c.get<std::string>("fill_mode", "nearest");
  o.cval = c.get<double>("cval", 0);
  o.crop_padding = c.get<int>("crop_padding", 0);
  o.brightness_delta = c.get<double>("brightness_delta", 0);
  o.contrast_range = c.get<double>("contrast_range", 0);
  for (const char* k : {"rotation_range", "width_shift_range", "height_shift_range", "zoom_range", "crop_padding",
                        "brightness_delta", "contrast_range"})
    if (c.get<double>(k, 0) < 0) c.fail(std::string(k) + " must be >= 0", k);
  static const std::vector<std::string> modes = {"nearest", "constant", "reflect", "wrap"};
  if (std::find(modes.begin(), modes.end(), o.fill_mode) == modes.end())
    c.fail("fill_mode must be one of nearest, constant, reflect, wrap; got '" + o.fill_mode + "'", "fill_mode");
  return o;
}

}  // namespace

LoadedData load_data(const Config& d, const nlohmann::json* fitted) {
  const std::string kind = d.require<std::string>("dataset");
  static const std::vector<std::string> kinds = {"fashion_mnist", "idx", "image_folder", "csv", "text", "jsonl"};
  if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
    std::string hint = closest(kind, kinds);
    d.fail("unknown dataset '" + kind + "'" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
               "; valid datasets: fashion_mnist, idx, image_folder, csv, text, jsonl",
           "dataset");
  }
  LoadedData out;
  out.seed = d.get<uint64_t>("seed", 1);
  const SplitSpec split = parse_split(d, out.seed);
  out.workers = d.get<int>("workers", -1);
  out.prefetch = d.get<int>("prefetch", 4);
  if (out.workers < -1)
    d.fail("workers must be >= 0 (0: build batches on the training thread), or -1 (automatic)", "workers");
  if (out.prefetch < 1) d.fail("prefetch must be >= 1 (batches built ahead of training)", "prefetch");
  out.balance = d.get<std::string>("balance", "");
  if (out.balance == "none") out.balance.clear();
  if (!out.balance.empty() && out.balance != "oversample" && out.balance != "undersample")
    d.fail("balance must be oversample, undersample or none; got '" + out.balance + "'", "balance");
  const bool images = kind == "fashion_mnist" || kind == "idx" || kind == "image_folder";
  if (d.has("augment")) {
    if (!images) d.fail("augment applies to images (fashion_mnist, idx, image_folder), not to '" + kind + "' data", "augment");
    out.augment = parse_augment(d.section("augment"));
  }
  if (fitted && !fitted->is_null() && fitted->contains("kind")) {
    const std::string want = images ? "images" : (kind == "csv" ? "table" : "text");
    const std::string have = fitted->value("kind", "");
    if (have != want)
      throw ConfigError(d.where("dataset") + ": the model was trained on '" + have + "' data, but this data section is '" +
                        kind + "'");
  } else {
    fitted = nullptr;
  }

  if (images) load_image_kind(d, kind, split, out);
  else if (kind == "csv") load_table_kind(d, kind, fitted, split, out);
  else load_text_kind(d, kind, fitted, split, out);

  if (!out.x_train.defined() || out.x_train.size(0) == 0)
    throw ConfigError(d.where() + ": data: no training examples left after reading, cleaning and splitting");
  out.report += "classes (training): " + class_counts(out.y_train, out.class_names) + "\n";
  if (!out.balance.empty()) {
    auto labels = out.y_train.to_vector<int64_t>();
    auto idx = out.balance == "oversample" ? data::oversample_indices(labels, out.seed) : data::undersample_indices(labels, out.seed);
    out.report += "balance: " + out.balance + ": " + std::to_string(labels.size()) + " -> " + std::to_string(idx.size()) +
                  " training examples per epoch\n";
  }
  if (out.augment.any()) out.report += "augment: on the loader threads, seeded per example\n";
  return out;
}

std::shared_ptr<const data::Dataset> training_dataset(const LoadedData& d) {
  std::shared_ptr<const data::Dataset> ds = std::make_shared<data::TensorDataset>(std::vector<Tensor>{d.x_train, d.y_train});
  if (!d.balance.empty()) {
    auto labels = d.y_train.to_vector<int64_t>();
    auto idx = d.balance == "oversample" ? data::oversample_indices(labels, d.seed) : data::undersample_indices(labels, d.seed);
    ds = std::make_shared<data::SubsetDataset>(ds, std::move(idx));
  }
  if (d.augment.any()) {
    const data::AugmentOptions opt = d.augment;
    ds = std::make_shared<data::MapDataset>(ds, [opt](data::Example e, Generator& g) {
      e[0] = data::augment_image(e[0].contiguous(), opt, g);
      return e;
    });
  }
  return ds;
}

Tensor prepare_inputs(const std::string& path, const nlohmann::json& pp) {
  if (!std::filesystem::exists(path)) throw ValueError("cannot read '" + path + "': no such file");
  const std::string kind = pp.value("kind", "images");
  if (kind == "table") return table_inputs(path, pp);
  if (kind == "text") return text_inputs(path, pp);
  return image_inputs(path, pp);
}

}  // namespace cairn::cli
