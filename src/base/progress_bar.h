// ProgressBar: a one-line terminal progress bar on stderr (silent when stderr is not a terminal).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace pagellm {

class ProgressBar {
 public:
  // `unit` is printed after the counts ("MB", "req", ...); `scale` divides the raw counts for display.
  ProgressBar(std::string label, uint64_t total, std::string unit = "", double scale = 1.0);
  ~ProgressBar();

  void Update(uint64_t done);
  void Add(uint64_t n) { Update(done_ + n); }
  void Finish();
  bool enabled() const { return enabled_; }

 private:
  void Draw(bool final_line);

  std::string label_;
  uint64_t total_;
  std::string unit_;
  double scale_;
  uint64_t done_ = 0;
  bool enabled_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace pagellm
