#include "cairn/data/dataset.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "cairn/core/ops/ops.h"

namespace cairn::data {

TensorDataset::TensorDataset(std::vector<Tensor> tensors) : tensors_(std::move(tensors)) {
  CAIRN_CHECK(!tensors_.empty(), ValueError, "TensorDataset: needs at least one tensor");
  n_ = tensors_[0].dim() > 0 ? tensors_[0].size(0) : 0;
  for (size_t k = 0; k < tensors_.size(); ++k)
    CAIRN_CHECK(tensors_[k].dim() > 0 && tensors_[k].size(0) == n_, ShapeError, "TensorDataset: tensor ", k,
                " has shape ", shape_str(tensors_[k].shape()), " but tensor 0 has ", n_,
                " rows; every tensor needs the same first dimension");
}

Example TensorDataset::get(int64_t i, Generator&) const {
  CAIRN_CHECK(i >= 0 && i < n_, IndexError, "TensorDataset: index ", i, " out of range for ", n_, " examples");
  Example e;
  e.reserve(tensors_.size());
  for (const Tensor& t : tensors_) e.push_back(select(t, 0, i));
  return e;
}

std::optional<Example> TensorDataset::get_rows(std::span<const int64_t> indices) const {
  for (int64_t i : indices)
    CAIRN_CHECK(i >= 0 && i < n_, IndexError, "TensorDataset: index ", i, " out of range for ", n_, " examples");
  const Tensor idx = from_vector(std::vector<int64_t>(indices.begin(), indices.end()));
  Example e;
  e.reserve(tensors_.size());
  for (const Tensor& t : tensors_) e.push_back(index_select(t.detach(), 0, idx));
  return e;
}

void TensorDataset::prefetch_rows(std::span<const int64_t> indices) const {
  for (const Tensor& t : tensors_) {
    if (!t.is_contiguous() || t.device() != DeviceType::CPU) continue;
    const size_t row = static_cast<size_t>(t.numel() / std::max<int64_t>(n_, 1)) * t.element_size();
    const char* base = static_cast<const char*>(t.raw_data());
    for (int64_t i : indices) {
      if (i < 0 || i >= n_) continue;
      const char* r = base + static_cast<size_t>(i) * row;
      for (size_t off = 0; off < row; off += 64) __builtin_prefetch(r + off);
    }
  }
}

SubsetDataset::SubsetDataset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices)
    : base_(std::move(base)), indices_(std::move(indices)) {
  const int64_t n = base_->size();
  for (size_t k = 0; k < indices_.size(); ++k)
    CAIRN_CHECK(indices_[k] >= 0 && indices_[k] < n, IndexError, "SubsetDataset: index ", indices_[k], " at position ",
                k, " is out of range for a dataset of ", n, " examples");
}

Example SubsetDataset::get(int64_t i, Generator& rng) const {
  CAIRN_CHECK(i >= 0 && i < size(), IndexError, "SubsetDataset: index ", i, " out of range for ", size(), " examples");
  return base_->get(indices_[static_cast<size_t>(i)], rng);
}

std::optional<Example> SubsetDataset::get_rows(std::span<const int64_t> indices) const {
  std::vector<int64_t> mapped(indices.size());
  for (size_t k = 0; k < indices.size(); ++k) {
    const int64_t i = indices[k];
    CAIRN_CHECK(i >= 0 && i < size(), IndexError, "SubsetDataset: index ", i, " out of range for ", size(), " examples");
    mapped[k] = indices_[static_cast<size_t>(i)];
  }
  return base_->get_rows(mapped);
}

void SubsetDataset::prefetch_rows(std::span<const int64_t> indices) const {
  std::vector<int64_t> mapped;
  mapped.reserve(indices.size());
  for (int64_t i : indices)
    if (i >= 0 && i < size()) mapped.push_back(indices_[static_cast<size_t>(i)]);
  base_->prefetch_rows(mapped);
}

ConcatDataset::ConcatDataset(std::vector<std::shared_ptr<const Dataset>> parts) : parts_(std::move(parts)) {
  offsets_.push_back(0);
  for (auto& p : parts_) offsets_.push_back(offsets_.back() + p->size());
}

Example ConcatDataset::get(int64_t i, Generator& rng) const {
  CAIRN_CHECK(i >= 0 && i < size(), IndexError, "ConcatDataset: index ", i, " out of range for ", size(), " examples");
  size_t k = static_cast<size_t>(std::upper_bound(offsets_.begin(), offsets_.end(), i) - offsets_.begin()) - 1;
  return parts_[k]->get(i - offsets_[k], rng);
}

RepeatDataset::RepeatDataset(std::shared_ptr<const Dataset> base, int64_t times) : base_(std::move(base)), times_(times) {
  CAIRN_CHECK(times >= 1, ValueError, "RepeatDataset: times must be >= 1, got ", times);
}

Example RepeatDataset::get(int64_t i, Generator& rng) const {
  CAIRN_CHECK(i >= 0 && i < size(), IndexError, "RepeatDataset: index ", i, " out of range for ", size(), " examples");
  return base_->get(i % base_->size(), rng);
}

namespace {
void shuffle(std::vector<int64_t>& v, Generator& g) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[g.below(i)]);
}
}  // namespace

std::vector<std::vector<int64_t>> split_indices(int64_t n, const std::vector<double>& fractions, uint64_t seed,
                                                const std::vector<int64_t>* labels) {
  double total = 0;
  for (double f : fractions) {
    CAIRN_CHECK(f >= 0, ValueError, "split: fractions must be >= 0, got ", f);
    total += f;
  }
  CAIRN_CHECK(!fractions.empty() && total <= 1.0 + 1e-9, ValueError, "split: fractions must sum to at most 1, got ", total);
  CAIRN_CHECK(!labels || static_cast<int64_t>(labels->size()) == n, ShapeError, "split: ", labels ? labels->size() : 0,
              " labels for ", n, " examples");
  Generator g(seed);
  std::vector<std::vector<int64_t>> groups;
  if (labels) {
    std::map<int64_t, std::vector<int64_t>> by_class;
    for (int64_t i = 0; i < n; ++i) by_class[(*labels)[i]].push_back(i);
    for (auto& [_, v] : by_class) groups.push_back(std::move(v));
  } else {
    groups.emplace_back(static_cast<size_t>(n));
    std::iota(groups[0].begin(), groups[0].end(), 0);
  }
  std::vector<std::vector<int64_t>> parts(fractions.size());
  for (auto& grp : groups) {
    shuffle(grp, g);
    size_t at = 0;
    for (size_t k = 0; k < fractions.size(); ++k) {
      size_t take = k + 1 == fractions.size() && total >= 1.0 - 1e-9
                        ? grp.size() - at
                        : static_cast<size_t>(static_cast<double>(grp.size()) * fractions[k] + 0.5);
      take = std::min(take, grp.size() - at);
      parts[k].insert(parts[k].end(), grp.begin() + static_cast<std::ptrdiff_t>(at),
                      grp.begin() + static_cast<std::ptrdiff_t>(at + take));
      at += take;
    }
  }
  for (auto& p : parts) std::sort(p.begin(), p.end());
  return parts;
}

std::pair<std::shared_ptr<Dataset>, std::shared_ptr<Dataset>> split(std::shared_ptr<const Dataset> ds, double first,
                                                                     uint64_t seed, const std::vector<int64_t>* labels) {
  CAIRN_CHECK(first > 0 && first < 1, ValueError, "split: the first fraction must be in (0, 1), got ", first);
  auto parts = split_indices(ds->size(), {first, 1.0 - first}, seed, labels);
  return {std::make_shared<SubsetDataset>(ds, parts[0]), std::make_shared<SubsetDataset>(ds, parts[1])};
}

namespace {
std::vector<int64_t> rebalance(const std::vector<int64_t>& labels, uint64_t seed, bool over) {
  std::map<int64_t, std::vector<int64_t>> by_class;
  for (size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(static_cast<int64_t>(i));
  CAIRN_CHECK(!by_class.empty(), ValueError, "resampling: no labels");
  size_t target = over ? 0 : SIZE_MAX;
  for (auto& [_, v] : by_class) target = over ? std::max(target, v.size()) : std::min(target, v.size());
  Generator g(seed);
  std::vector<int64_t> out;
  for (auto& [_, v] : by_class) {
    shuffle(v, g);
    for (size_t k = 0; k < target; ++k) out.push_back(v[k % v.size()]);
  }
  shuffle(out, g);
  return out;
}
}  // namespace

std::vector<int64_t> oversample_indices(const std::vector<int64_t>& labels, uint64_t seed) { return rebalance(labels, seed, true); }
std::vector<int64_t> undersample_indices(const std::vector<int64_t>& labels, uint64_t seed) { return rebalance(labels, seed, false); }

}  // namespace cairn::data
