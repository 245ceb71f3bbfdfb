// Test helpers: shared folder resolution and temporary directories.
#include "src/testing/testing.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
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

CommandResult RunCommand(const std::string& command_line) {
  TempDir dir;
  const std::string err_path = (dir / "stderr").string();
  const std::string cmd = command_line + " 2>" + err_path;
  CommandResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_path);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  return r;
}

}  // namespace pagellm::testing
