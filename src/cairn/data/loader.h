// DataLoader: shuffles a Dataset each epoch, collates examples into batches and builds them on worker threads
// ahead of the training loop, so training does not wait on data.
//
//   DataLoader loader(ds, {.batch_size = 32, .shuffle = true, .seed = 7, .num_workers = 2});
//   for (int64_t epoch = 0; epoch < epochs; ++epoch) {
//     loader.start_epoch(epoch);
//     Batch b;
//     while (loader.next(b)) train_step(b.fields[0], b.fields[1]);
//   }
//
// Determinism: the order of epoch e is a permutation drawn from (seed, e), and example i of epoch e gets a
// Generator seeded from (seed, e, i) for its random transforms, so the batches are the same whatever the
// number of workers. Workers run their ops single-threaded (the training loop owns the cores' OpenMP pool).
#pragma once
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "cairn/data/dataset.h"

namespace cairn::data {

struct LoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = true;
  uint64_t seed = 0;
  // Threads building batches ahead; 0: on the calling thread; -1: automatic, 0 for datasets that gather a batch
  // in one pass (in-memory tensors: a thread would only compete with training for the cores), else 1.
  int num_workers = -1;
  int prefetch = 4;         // batches built ahead of the consumer
  bool drop_last = false;   // drop a last, smaller batch
  double pad_value = 0.0;   // variable-length fields are padded to the batch's longest (along dim 0)
};

struct Batch {
  std::vector<Tensor> fields;  // each (B, ...) : examples stacked, padded when their first dims differ
  std::vector<std::vector<int64_t>> lengths;  // per field: the examples' dim-0 sizes when padded, else empty
  int64_t index = -1;          // batch number within the epoch
};

// Stacks examples field by field (padding variable-length ones). Throws ShapeError naming the field and
// both shapes when shapes differ beyond dim 0, or DTypeError when dtypes differ.
Batch collate(const std::vector<Example>& examples, double pad_value = 0.0);

// The Generator seed of example `index` in `epoch` (also used for the permutation with index = -1).
uint64_t example_seed(uint64_t seed, int64_t epoch, int64_t index);

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options = {});
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t num_batches() const;
  int num_workers() const { return opt_.num_workers; }  // after resolving -1 (automatic)
  int64_t size() const { return dataset_->size(); }
  // Starts epoch `epoch` at batch `first_batch` (a resumed run skips the batches it already trained on).
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch of the epoch, in order; false after the last. Rethrows an exception a worker hit.
  bool next(Batch& out);
  // The example indices of the current epoch, in order.
  const std::vector<int64_t>& order() const { return *order_; }

 private:
  // Batch k's example indices within `order`.
  std::span<const int64_t> batch_indices(const std::vector<int64_t>& order, int64_t k) const;
  Batch build(int64_t k, const std::vector<int64_t>& order, int64_t epoch) const;
  void worker_loop();
  void stop_workers();

  std::shared_ptr<const Dataset> dataset_;
  LoaderOptions opt_;
  std::shared_ptr<const std::vector<int64_t>> order_ = std::make_shared<std::vector<int64_t>>();  // per epoch, immutable
  int64_t epoch_ = 0;

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_, ready_cv_;
  bool stopping_ = false;
  uint64_t generation_ = 0;  // bumps at each start_epoch; stale work is discarded
  int64_t next_claim_ = 0, next_take_ = 0, end_ = 0;
  std::map<int64_t, Batch> ready_;
  std::exception_ptr error_;
};

}  // namespace cairn::data
