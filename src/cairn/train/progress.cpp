#include "cairn/train/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>

namespace cairn::train {

std::string format_logs(const Logs& logs) {
  std::string s;
  char buf[96];
  for (const auto& [k, v] : logs) {
    if (std::abs(v) > 0 && std::abs(v) < 1e-3) std::snprintf(buf, sizeof buf, " - %s: %.4e", k.c_str(), v);
    else std::snprintf(buf, sizeof buf, " - %s: %.4f", k.c_str(), v);
    s += buf;
  }
  return s;
}

bool ProgressBar::stdout_is_terminal() {
  const char* ci = std::getenv("CI");
  if (ci && *ci && std::string(ci) != "false" && std::string(ci) != "0") return false;
  return ::isatty(STDOUT_FILENO) == 1;
}

ProgressBar::ProgressBar(int64_t target, int verbose, std::FILE* out)
    : target_(target), verbose_(verbose), live_(verbose == 1 && stdout_is_terminal()), out_(out) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

std::string ProgressBar::bar(int64_t step) const {
  const int width = 30;
  std::string s = std::to_string(step);
  if (target_ > 0) {
    std::string t = std::to_string(target_);
    s = std::string(t.size() > s.size() ? t.size() - s.size() : 0, ' ') + s + "/" + t + " [";
    int filled = static_cast<int>(width * static_cast<double>(step) / static_cast<double>(target_));
    if (filled > 0) s += std::string(filled - 1, '=') + (step < target_ ? ">" : "=");
    s += std::string(width - std::max(filled, 0), '.') + "]";
  }
  return s;
}

void ProgressBar::update(int64_t step, const Logs& logs) {
  step_ = step;
  if (!live_) return;
  auto now = std::chrono::steady_clock::now();
  if (step < target_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  std::string line = bar(step);
  if (target_ > 0 && step < target_) {
    const double eta = elapsed / static_cast<double>(std::max<int64_t>(step, 1)) * static_cast<double>(target_ - step);
    char buf[64];
    if (eta >= 3600) std::snprintf(buf, sizeof buf, " - ETA: %d:%02d:%02d", (int)eta / 3600, ((int)eta % 3600) / 60, (int)eta % 60);
    else if (eta >= 60) std::snprintf(buf, sizeof buf, " - ETA: %d:%02d", (int)eta / 60, (int)eta % 60);
    else std::snprintf(buf, sizeof buf, " - ETA: %ds", (int)std::lround(eta));
    line += buf;
  }
  line += format_logs(logs);
  std::string pad = line.size() < last_width_ ? std::string(last_width_ - line.size(), ' ') : "";
  last_width_ = line.size();
  std::fprintf(out_, "\r%s%s", line.c_str(), pad.c_str());
  std::fflush(out_);
}

void ProgressBar::finish(const Logs& logs) {
  if (verbose_ == 0) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double per_step = step_ > 0 ? elapsed / static_cast<double>(step_) : 0.0;
  char timing[64];
  if (per_step >= 1) std::snprintf(timing, sizeof timing, "%.0fs %.0fs/step", elapsed, per_step);
  else if (per_step >= 1e-3) std::snprintf(timing, sizeof timing, "%.0fs %.0fms/step", elapsed, per_step * 1e3);
  else std::snprintf(timing, sizeof timing, "%.0fs %.0fus/step", elapsed, per_step * 1e6);
  std::string line = live_ ? bar(target_ > 0 ? target_ : step_) + " - " + timing
                           : std::to_string(step_) + "/" + std::to_string(target_ > 0 ? target_ : step_) + " - " + timing;
  line += format_logs(logs);
  std::string pad = live_ && line.size() < last_width_ ? std::string(last_width_ - line.size(), ' ') : "";
  std::fprintf(out_, "%s%s%s\n", live_ ? "\r" : "", line.c_str(), pad.c_str());
  std::fflush(out_);
}

}  // namespace cairn::train
