// Does Keras-style augmentation on the DataLoader's worker threads cost training time? The reference CNN
// (Conv2D 32 3x3 relu, MaxPool 2, Conv2D 64 3x3 relu, MaxPool 2, Flatten, Dense 128 relu, Dense 10; Adam 1e-3,
// batch 32) on Fashion-MNIST through train::Model::fit, in two feeds:
//   memory:  fit(x, y): the images already in memory as float (N, 1, 28, 28), no augmentation;
//   augment: fit(dataset): the same images through augment_image (rotation 10, width/height shift 0.1,
//            zoom 0.1, fill nearest) in a MapDataset, built on the loader's worker threads.
// The two alternate in rounds on the same model, so drifting machine load hits both alike. A step's time is the
// interval between consecutive on_batch_end calls (it includes any wait for the loader). Also measured alone:
// the CPU time one loader thread spends building a batch of each kind.
//
//   bench_loader [threads=2] [workers=1] [steps per round=200] [rounds=3]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include <time.h>

#include "cairn/core/core.h"
#include "cairn/data/augment.h"
#include "cairn/data/idx.h"
#include "cairn/data/loader.h"
#include "cairn/nn/nn.h"
#include "cairn/optim/factory.h"
#include "reference_models.h"
#include "cairn/train/model.h"

using namespace cairn;
using Clock = std::chrono::steady_clock;

namespace {

// Threads of this process now (OpenMP pool, loader workers, anything a library started).
std::string threads_now() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  char line[256];
  std::string n = "?";
  while (f && std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "Threads:", 8) == 0) n = std::to_string(std::atoi(line + 8));
  if (f) std::fclose(f);
  return n;
}

class StepTimer final : public train::Callback {
 public:
  std::vector<double> ms;
  std::string threads;
  void on_train_begin(const train::Logs&) override { last_ = Clock::now(); }
  void on_batch_end(int64_t batch, const train::Logs&) override {
    if (batch == 3) threads = threads_now();  // one /proc read (tens of us) in one step
    const auto now = Clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(now - last_).count());
    last_ = now;
  }

 private:
  Clock::time_point last_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
double mean(const std::vector<double>& v) { return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / double(v.size()); }

double thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e3 + double(t.tv_nsec) / 1e6;
}

// CPU time (ms) this thread spends building one batch (the loader's work; CPU time, so other load on the
// machine does not inflate it).
double batch_build_ms(std::shared_ptr<const data::Dataset> ds, int64_t batches) {
  data::DataLoader loader(ds, {.batch_size = 32, .shuffle = true, .seed = 3, .num_workers = 0});
  loader.start_epoch(0);
  data::Batch b;
  loader.next(b);  // warm-up
  const double t0 = thread_cpu_ms();
  for (int64_t i = 0; i < batches && loader.next(b); ++i) {
  }
  return (thread_cpu_ms() - t0) / double(batches);
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int workers = argc > 2 ? std::atoi(argv[2]) : 1;
  const int64_t steps = argc > 3 ? std::atoll(argv[3]) : 200;
  const int rounds = argc > 4 ? std::atoi(argv[4]) : 3;
  set_num_threads(threads);
  manual_seed(0);

  auto fm = data::load_fashion_mnist();
  Tensor raw = Tensor::empty({fm.train.images.shape[0], 1, 28, 28}, DType::u8);
  std::memcpy(raw.raw_data(), fm.train.images.data.data(), fm.train.images.data.size());
  const Tensor x = div(raw.to(DType::f32), scalar_tensor(255.0f));
  const Tensor y = from_vector(fm.train.labels.data);

  data::AugmentOptions aug;
  aug.rotation_range = 10;
  aug.width_shift_range = 0.1;
  aug.height_shift_range = 0.1;
  aug.zoom_range = 0.1;
  auto base = std::make_shared<data::TensorDataset>(std::vector<Tensor>{x, y});
  auto augmented = std::make_shared<data::MapDataset>(base, [aug](data::Example e, Generator& g) {
    e[0] = data::augment_image(e[0], aug, g);
    return e;
  });

  std::printf("bench_loader: %d compute threads, %d loader worker(s), %lld steps x %d rounds per feed, batch 32; "
              "load %s\n", threads, workers, (long long)steps, rounds, [] {
                static char buf[64] = "?";
                if (FILE* f = std::fopen("/proc/loadavg", "r")) {
                  if (!std::fgets(buf, sizeof buf, f)) buf[0] = 0;
                  std::fclose(f);
                }
                // the three load averages only
                for (int i = 0, spaces = 0; buf[i]; ++i)
                  if (buf[i] == ' ' && ++spaces == 3) buf[i] = 0;
                return buf;
              }());
  {
    const double mem = batch_build_ms(base, 200), augm = batch_build_ms(augmented, 200);
    std::printf("loader CPU time per batch (one thread): memory %.3f ms, augment %.3f ms\n", mem, augm);
  }

  const std::shared_ptr<nn::Sequential> net = bench::reference_model("cnn").net;
  train::Model model(net);
  nn::LossOptions lo;
  lo.from_logits = true;
  model.compile(optim::make_optimizer("adam", net->trainable_parameters(), {{"lr", 1e-3}}),
                nn::make_loss("sparse_categorical_crossentropy", lo), {});

  std::vector<double> all_mem, all_aug;
  for (int r = 0; r <= rounds; ++r) {  // round 0 warms up (caches, allocator, oneDNN primitives)
    for (int feed = 0; feed < 2; ++feed) {
      auto timer = std::make_shared<StepTimer>();
      train::FitOptions fo;
      fo.epochs = 1;
      fo.batch_size = 32;
      fo.verbose = 0;
      fo.seed = uint64_t(r * 2 + feed + 1);
      fo.max_steps = steps;
      fo.loader_workers = workers;
      fo.callbacks = {timer};
      if (feed == 0) model.fit(x, y, fo);
      else model.fit(augmented, fo);
      if (r == 1) std::printf("%s feed: %s threads in the process during fit\n", feed ? "augment" : "memory",
                              timer->threads.c_str());
      // The first steps of a fit include the loader filling its queue: drop them.
      std::vector<double> ms(timer->ms.begin() + std::min<size_t>(5, timer->ms.size()), timer->ms.end());
      if (r == 0) continue;
      std::printf("round %d %-7s: median %.3f ms/step, mean %.3f ms/step\n", r, feed ? "augment" : "memory", median(ms),
                  mean(ms));
      std::fflush(stdout);
      (feed ? all_aug : all_mem).insert((feed ? all_aug : all_mem).end(), ms.begin(), ms.end());
    }
  }
  const double mm = median(all_mem), ma = median(all_aug);
  std::printf("memory : median %.3f ms/step, mean %.3f\naugment: median %.3f ms/step, mean %.3f\n"
              "augment / memory: %.3f (median), %.3f (mean)\n",
              mm, mean(all_mem), ma, mean(all_aug), ma / mm, mean(all_aug) / mean(all_mem));
  return 0;
}
