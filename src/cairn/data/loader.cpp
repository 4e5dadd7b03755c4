#include "cairn/data/loader.h"

#include <omp.h>

#include "cairn/core/autograd/autograd.h"
#include "cairn/core/ops/ops.h"

namespace cairn::data {

uint64_t example_seed(uint64_t seed, int64_t epoch, int64_t index) {
  // splitmix64 over the three numbers: neighbouring indices get unrelated streams.
  uint64_t x = seed ^ (static_cast<uint64_t>(epoch) * 0x9e3779b97f4a7c15ULL) ^ (static_cast<uint64_t>(index + 1) * 0xbf58476d1ce4e5b9ULL);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

Batch collate(const std::vector<Example>& ex, double pad_value) {
  CAIRN_CHECK(!ex.empty(), ValueError, "collate: no examples");
  const size_t nf = ex[0].size();
  Batch b;
  b.lengths.resize(nf);
  const int64_t B = static_cast<int64_t>(ex.size());
  for (size_t f = 0; f < nf; ++f) {
    const Tensor& first = ex[0][f];
    bool ragged = false;
    int64_t longest = first.dim() > 0 ? first.size(0) : 0;
    for (int64_t j = 0; j < B; ++j) {
      CAIRN_CHECK(ex[j].size() == nf, ShapeError, "collate: example ", j, " has ", ex[j].size(), " fields, example 0 has ", nf);
      const Tensor& t = ex[j][f];
      CAIRN_CHECK(t.dtype() == first.dtype(), DTypeError, "collate: field ", f, " of example ", j, " is ",
                  dtype_name(t.dtype()), " but example 0's is ", dtype_name(first.dtype()));
      bool same_rest = t.dim() == first.dim();
      for (int64_t d = 1; same_rest && d < t.dim(); ++d) same_rest = t.size(d) == first.size(d);
      CAIRN_CHECK(same_rest, ShapeError, "collate: field ", f, " of example ", j, " has shape ", shape_str(t.shape()),
                  " but example 0's has ", shape_str(first.shape()), "; only the first dimension may vary (it is padded)");
      if (t.dim() > 0 && t.size(0) != first.size(0)) ragged = true;
      if (t.dim() > 0) longest = std::max(longest, t.size(0));
    }
    Shape s = first.shape();
    if (!s.empty()) s[0] = longest;
    s.insert(s.begin(), B);
    Tensor out = ragged ? full(s, pad_value, first.dtype()) : Tensor::empty(s, first.dtype());
    for (int64_t j = 0; j < B; ++j) {
      const Tensor& t = ex[j][f];
      Tensor dst = select(out, 0, j);
      if (ragged) {
        dst = narrow(dst, 0, 0, t.size(0));
        b.lengths[f].push_back(t.size(0));
      }
      dst.copy_(t.detach());
    }
    b.fields.push_back(out);
  }
  return b;
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options)
    : dataset_(std::move(dataset)), opt_(options) {
  CAIRN_CHECK(dataset_ != nullptr, ValueError, "DataLoader: the dataset is null");
  CAIRN_CHECK(opt_.batch_size > 0, ValueError, "DataLoader: batch_size must be positive, got ", opt_.batch_size);
  CAIRN_CHECK(opt_.num_workers >= -1, ValueError, "DataLoader: num_workers must be >= 0 (or -1: automatic), got ",
              opt_.num_workers);
  if (opt_.num_workers < 0) opt_.num_workers = dataset_->get_rows({}).has_value() ? 0 : 1;
  CAIRN_CHECK(opt_.prefetch >= 1, ValueError, "DataLoader: prefetch must be >= 1, got ", opt_.prefetch);
  for (int w = 0; w < opt_.num_workers; ++w) workers_.emplace_back([this] { worker_loop(); });
}

DataLoader::~DataLoader() { stop_workers(); }

void DataLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

int64_t DataLoader::num_batches() const {
  const int64_t n = dataset_->size();
  return opt_.drop_last ? n / opt_.batch_size : (n + opt_.batch_size - 1) / opt_.batch_size;
}

void DataLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  std::lock_guard<std::mutex> lock(mu_);
  epoch_ = epoch;
  const int64_t n = dataset_->size();
  auto order = std::make_shared<std::vector<int64_t>>(static_cast<size_t>(n));
  auto& o = *order;
  for (int64_t i = 0; i < n; ++i) o[i] = i;
  if (opt_.shuffle) {
    Generator g(example_seed(opt_.seed, epoch, -1));
    for (int64_t i = n - 1; i > 0; --i) std::swap(o[i], o[g.below(static_cast<uint64_t>(i + 1))]);
  }
  order_ = std::move(order);
  generation_++;
  ready_.clear();
  error_ = nullptr;
  next_claim_ = next_take_ = std::clamp<int64_t>(first_batch, 0, num_batches());
  end_ = num_batches();
  work_cv_.notify_all();
}

std::span<const int64_t> DataLoader::batch_indices(const std::vector<int64_t>& order, int64_t k) const {
  const int64_t b = k * opt_.batch_size, n = std::min(opt_.batch_size, dataset_->size() - b);
  return std::span<const int64_t>(order).subspan(static_cast<size_t>(b), static_cast<size_t>(n));
}

Batch DataLoader::build(int64_t k, const std::vector<int64_t>& order, int64_t epoch) const {
  const std::span<const int64_t> indices = batch_indices(order, k);
  // Datasets without per-example work gather the whole batch in one pass per field.
  if (auto rows = dataset_->get_rows(indices)) {
    Batch out;
    out.fields = std::move(*rows);
    out.lengths.resize(out.fields.size());
    out.index = k;
    return out;
  }
  std::vector<Example> ex;
  ex.reserve(indices.size());
  for (const int64_t idx : indices) {
    Generator rng(example_seed(opt_.seed, epoch, idx));
    ex.push_back(dataset_->get(idx, rng));
  }
  Batch out = collate(ex, opt_.pad_value);
  out.index = k;
  return out;
}

void DataLoader::worker_loop() {
  omp_set_num_threads(1);  // the training loop owns the cores; a worker's ops run serially
  NoGradGuard no_grad;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stopping_ || (next_claim_ < end_ && next_claim_ < next_take_ + opt_.prefetch); });
    if (stopping_) return;
    const int64_t k = next_claim_++;
    const uint64_t gen = generation_;
    auto order = order_;
    const int64_t epoch = epoch_;
    lock.unlock();
    Batch b;
    std::exception_ptr err;
    try {
      b = build(k, *order, epoch);
    } catch (...) {
      err = std::current_exception();
    }
    lock.lock();
    if (gen != generation_) continue;  // the epoch was restarted meanwhile
    if (err && !error_) error_ = err;
    else ready_.emplace(k, std::move(b));
    ready_cv_.notify_all();
  }
}

bool DataLoader::next(Batch& out) {
  if (opt_.num_workers == 0) {
    std::lock_guard<std::mutex> lock(mu_);
    if (next_take_ >= end_) return false;
    NoGradGuard no_grad;
    out = build(next_take_++, *order_, epoch_);
    // The next batch's rows start on their way into the caches while this one trains.
    if (next_take_ < end_) dataset_->prefetch_rows(batch_indices(*order_, next_take_));
    return true;
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (next_take_ >= end_) return false;
  ready_cv_.wait(lock, [&] { return error_ || ready_.count(next_take_); });
  if (error_) std::rethrow_exception(error_);
  auto it = ready_.find(next_take_);
  out = std::move(it->second);
  ready_.erase(it);
  next_take_++;
  work_cv_.notify_all();
  return true;
}

}  // namespace cairn::data
