// Helpers shared by the fuzz targets: the shared test-data folder and whole-file reads.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#ifndef PAGELLM_DEFAULT_SHARED_DIR
#define PAGELLM_DEFAULT_SHARED_DIR "../shared"
#endif

namespace pagellm::fuzz {

// $PAGELLM_SHARED_DIR, else the folder CMake was configured with.
inline std::string SharedDir() {
  const char* env = std::getenv("PAGELLM_SHARED_DIR");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(PAGELLM_DEFAULT_SHARED_DIR);
}

inline std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return std::move(ss).str();
}

// Stops the fuzzer with a message: a broken invariant (not a Status error) is a finding.
[[noreturn]] inline void Fail(std::string_view what) {
  std::fprintf(stderr, "fuzz invariant failed: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

// Consumes inputs front to back (the first bytes usually pick a mode).
class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  uint8_t Byte() { return p_ < end_ ? *p_++ : 0; }
  // Little-endian, zero-padded past the end.
  uint32_t Bytes(int n) {
    uint32_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint32_t>(Byte()) << (8 * i);
    return v;
  }
  std::string_view Rest() {
    std::string_view s(reinterpret_cast<const char*>(p_), remaining());
    p_ = end_;
    return s;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace pagellm::fuzz
