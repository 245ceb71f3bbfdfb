// Test helpers: shared folder resolution and temporary directories.
#include "src/testing/testing.h"

#include <unistd.h>

#include <cstdlib>
#include <random>

namespace pagellm::testing {

std::optional<std::filesystem::path> SharedDir() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (const char* env = std::getenv("PAGELLM_SHARED_DIR"); env != nullptr && *env != '\0') {
    if (fs::is_directory(env, ec)) return fs::path(env);
  }
  for (const fs::path& candidate :
       {fs::current_path(ec) / ".." / "shared", fs::path(PAGELLM_SOURCE_DIR) / ".." / "shared"}) {
    if (fs::is_directory(candidate, ec)) return fs::weakly_canonical(candidate, ec);
  }
  return std::nullopt;
}

std::optional<std::filesystem::path> SharedFile(const std::string& relative) {
  auto dir = SharedDir();
  if (!dir) return std::nullopt;
  std::error_code ec;
  auto p = *dir / relative;
  if (!std::filesystem::exists(p, ec)) return std::nullopt;
  return p;
}

TempDir::TempDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("pagellm_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace pagellm::testing
