// Seedable random numbers (xoshiro256**). The state is four words, saved in checkpoints so that a resumed
// run draws exactly the numbers the uninterrupted run would have drawn.
#pragma once
#include <array>
#include <cstdint>

namespace cairn {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5eed) { manual_seed(seed); }
  void manual_seed(uint64_t seed);
  uint64_t next_u64();
  // Uniform in [0, 1) with 53 random bits.
  double uniform();
  // Standard normal (Box-Muller; the second value of each pair is kept for the next call).
  double normal();
  // Uniform integer in [0, n).
  uint64_t below(uint64_t n);

  struct State {
    std::array<uint64_t, 4> s;
    bool has_spare;
    double spare;
  };
  State state() const { return {s_, has_spare_, spare_}; }
  void set_state(const State& st) {
    s_ = st.s;
    has_spare_ = st.has_spare;
    spare_ = st.spare;
  }

 private:
  std::array<uint64_t, 4> s_{};
  bool has_spare_ = false;
  double spare_ = 0.0;
};

// The process-wide default generator (used when an op is given none), or this thread's override.
Generator& default_generator();
void manual_seed(uint64_t seed);

// While one is alive, default_generator() and every module's layer_generator() on this thread return its
// generator: each part of a data-parallel step (train/data_parallel.h) draws its dropout masks from a stream of
// its own, so the draws do not depend on which thread ran first.
class ThreadGeneratorScope {
 public:
  explicit ThreadGeneratorScope(Generator& g);
  ~ThreadGeneratorScope();
  ThreadGeneratorScope(const ThreadGeneratorScope&) = delete;
  ThreadGeneratorScope& operator=(const ThreadGeneratorScope&) = delete;

 private:
  Generator* prev_;
};

// This thread's override, or null.
Generator* thread_generator();

}  // namespace cairn
