// ProgressBar: redraws at most ~10 times a second with \r.
#include "src/base/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace pagellm {

ProgressBar::ProgressBar(std::string label, uint64_t total, std::string unit, double scale)
    : label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      scale_(scale),
      enabled_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Update(uint64_t done) {
  done_ = std::min(done, total_);
  if (!enabled_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100) && done_ < total_) return;
  last_draw_ = now;
  Draw(false);
}

void ProgressBar::Finish() {
  if (finished_) return;
  finished_ = true;
  if (enabled_) Draw(true);
}

void ProgressBar::Draw(bool final_line) {
  constexpr int kWidth = 30;
  const double frac = total_ == 0 ? 1.0 : static_cast<double>(done_) / static_cast<double>(total_);
  const int filled = static_cast<int>(frac * kWidth);
  std::string bar(filled, '#');
  bar.resize(kWidth, '.');
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(stderr, "\r%s [%s] %3d%% %.1f/%.1f %s %.1fs%s", label_.c_str(), bar.c_str(),
               static_cast<int>(frac * 100), done_ / scale_, total_ / scale_, unit_.c_str(), secs,
               final_line ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace pagellm
