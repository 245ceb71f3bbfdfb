// Test helpers: where ../shared lives, and skipping when it is absent.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "gtest/gtest.h"

namespace pagellm::testing {

// The shared data folder: $PAGELLM_SHARED_DIR, else ../shared relative to the working directory
// and to the source tree. nullopt if none exists.
std::optional<std::filesystem::path> SharedDir();

// Path of a file below the shared folder, or nullopt if the folder or the file is absent.
std::optional<std::filesystem::path> SharedFile(const std::string& relative);

// A fresh empty temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Runs `command_line` through /bin/sh and collects its exit code (-1 if it did not exit
// normally), its stdout and its stderr.
struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
CommandResult RunCommand(const std::string& command_line);

}  // namespace pagellm::testing

// Skips the current test with a clear message when a shared file is missing.
#define PAGELLM_REQUIRE_SHARED(var, relative)                                               \
  auto var##_opt = ::pagellm::testing::SharedFile(relative);                                \
  if (!var##_opt) {                                                                         \
    GTEST_SKIP() << "shared test data not found: " << (relative)                            \
                 << " (set PAGELLM_SHARED_DIR to the folder holding models/ and tokenizers/)"; \
  }                                                                                         \
  const std::filesystem::path var = *var##_opt
