// Keras-style progress output.
//   verbose 1 on a terminal: a live bar, redrawn at most every 0.1 s:
//     1688/1688 [=======>......................] - ETA: 7s - loss: 0.4123 - accuracy: 0.8512
//   and at epoch end the full bar with time per epoch and per step and the validation figures.
//   verbose 2, or verbose 1 without a terminal (CI, pipes): one line per epoch.
//   verbose 0: nothing.
#pragma once
#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace cairn::train {

using Logs = std::vector<std::pair<std::string, double>>;  // ordered name -> value

// Formats "name: 0.1234" pairs joined by " - " (Keras's 4 significant decimals, scientific for tiny values).
std::string format_logs(const Logs& logs);

class ProgressBar {
 public:
  // target: steps per epoch (0 if unknown). out: where to print (stdout by default).
  ProgressBar(int64_t target, int verbose, std::FILE* out = stdout);
  static bool stdout_is_terminal();
  void update(int64_t step, const Logs& logs);  // after `step` steps (1-based) of this epoch
  void finish(const Logs& logs);                 // epoch end, logs include validation figures

 private:
  std::string bar(int64_t step) const;
  int64_t target_;
  int verbose_;
  bool live_;
  std::FILE* out_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  int64_t step_ = 0;
  size_t last_width_ = 0;
};

}  // namespace cairn::train
