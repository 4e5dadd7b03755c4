// Datasets over tensors (index -> example), composable as Flashlight's fl/dataset: transform, subset, concat,
// repeat, and train/validation/test splits (random or stratified). The DataLoader (loader.h) shuffles, batches
// and prefetches them on worker threads.
//
//   auto ds = std::make_shared<TensorDataset>(std::vector<Tensor>{images, labels});
//   auto [train, val] = split(ds, 0.9, /*seed=*/1, /*stratify_by=*/&labels);
//   auto aug = std::make_shared<MapDataset>(train, [](Example e, Generator& g) { e[0] = augment(e[0], opt, g); return e; });
//
// Randomness inside get() comes from the Generator the caller passes; the DataLoader seeds it from
// (seed, epoch, index), so an example's augmentation does not depend on which thread loads it.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "cairn/core/tensor/random.h"
#include "cairn/core/tensor/tensor.h"

namespace cairn::data {

// One example: its fields, e.g. {x, y}.
using Example = std::vector<Tensor>;

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Example i (0 <= i < size(); IndexError otherwise). Must be safe to call from several threads at once.
  virtual Example get(int64_t i, Generator& rng) const = 0;
  // Examples indices[0..n) with each field already stacked (n, ...), when the dataset can gather them in one
  // pass because it does no per-example work; nullopt otherwise (the loader then stacks get() of each).
  // Must equal stacking get() of each index. Same thread-safety as get().
  virtual std::optional<Example> get_rows(std::span<const int64_t> indices) const { return std::nullopt; }
  // A hint that get_rows(indices) comes next: datasets in memory start loading those rows into the caches.
  virtual void prefetch_rows(std::span<const int64_t> indices) const {}
};

// Rows of tensors that share their first dimension (views, no copy).
class TensorDataset final : public Dataset {
 public:
  explicit TensorDataset(std::vector<Tensor> tensors);
  int64_t size() const override { return n_; }
  Example get(int64_t i, Generator& rng) const override;
  std::optional<Example> get_rows(std::span<const int64_t> indices) const override;
  void prefetch_rows(std::span<const int64_t> indices) const override;
  const std::vector<Tensor>& tensors() const { return tensors_; }

 private:
  std::vector<Tensor> tensors_;
  int64_t n_;
};

// fn(example, rng) applied to every example on access (transforms, augmentation).
class MapDataset final : public Dataset {
 public:
  using Fn = std::function<Example(Example, Generator&)>;
  MapDataset(std::shared_ptr<const Dataset> base, Fn fn) : base_(std::move(base)), fn_(std::move(fn)) {}
  int64_t size() const override { return base_->size(); }
  Example get(int64_t i, Generator& rng) const override { return fn_(base_->get(i, rng), rng); }

 private:
  std::shared_ptr<const Dataset> base_;
  Fn fn_;
};

// The examples of base at the given indices, in that order (over- and under-sampling use repeated or
// omitted indices).
class SubsetDataset final : public Dataset {
 public:
  SubsetDataset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices);
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Example get(int64_t i, Generator& rng) const override;
  std::optional<Example> get_rows(std::span<const int64_t> indices) const override;
  void prefetch_rows(std::span<const int64_t> indices) const override;
  const std::vector<int64_t>& indices() const { return indices_; }

 private:
  std::shared_ptr<const Dataset> base_;
  std::vector<int64_t> indices_;
};

// The datasets one after another.
class ConcatDataset final : public Dataset {
 public:
  explicit ConcatDataset(std::vector<std::shared_ptr<const Dataset>> parts);
  int64_t size() const override { return offsets_.back(); }
  Example get(int64_t i, Generator& rng) const override;

 private:
  std::vector<std::shared_ptr<const Dataset>> parts_;
  std::vector<int64_t> offsets_;  // offsets_[k] = first index of part k; back() = total
};

// base repeated `times` times.
class RepeatDataset final : public Dataset {
 public:
  RepeatDataset(std::shared_ptr<const Dataset> base, int64_t times);
  int64_t size() const override { return base_->size() * times_; }
  Example get(int64_t i, Generator& rng) const override;

 private:
  std::shared_ptr<const Dataset> base_;
  int64_t times_;
};

// Index lists for a split of n examples into fractions (summing to at most 1; the rest goes to the last part).
// Random with `seed`; stratified when labels (n class indices) are given, so each part keeps the class balance.
std::vector<std::vector<int64_t>> split_indices(int64_t n, const std::vector<double>& fractions, uint64_t seed,
                                                const std::vector<int64_t>* labels = nullptr);
// Train/validation (or any two-way) split of a dataset.
std::pair<std::shared_ptr<Dataset>, std::shared_ptr<Dataset>> split(std::shared_ptr<const Dataset> ds, double first_fraction,
                                                                     uint64_t seed, const std::vector<int64_t>* labels = nullptr);

// Class balancing: indices that repeat minority-class examples (oversample) or drop majority-class ones
// (undersample) until every class has as many as the largest (smallest) class. Seeded.
std::vector<int64_t> oversample_indices(const std::vector<int64_t>& labels, uint64_t seed);
std::vector<int64_t> undersample_indices(const std::vector<int64_t>& labels, uint64_t seed);

}  // namespace cairn::data
