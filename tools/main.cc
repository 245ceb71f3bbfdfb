// pagellm: the command-line entry point (generate | make-model | ...).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "tools/commands.h"
#include "tools/make_model.h"

namespace pagellm {

StatusOr<std::string> ResolveModelPath(const std::string& flag) {
  namespace fs = std::filesystem;
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("PAGELLM_MODEL"); env != nullptr && *env != '\0') return std::string(env);
  std::error_code ec;
  std::vector<fs::path> candidates;
  if (const char* shared = std::getenv("PAGELLM_SHARED_DIR"); shared != nullptr && *shared != '\0') {
    candidates.push_back(fs::path(shared) / "models/stories260K/hf");
  }
  candidates.push_back(fs::path("..") / "shared/models/stories260K/hf");
  const char* home = std::getenv("HOME");
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const fs::path cache = xdg && *xdg ? fs::path(xdg) : fs::path(home ? home : ".") / ".cache";
  for (const auto& c : candidates) {
    if (fs::exists(c / "config.json", ec)) return fs::weakly_canonical(c, ec).string();
  }
  const fs::path downloaded = cache / "pagellm/stories260K/stories260K.bin";
  if (fs::exists(downloaded, ec)) return downloaded.string();
  return NotFound(
      "no model given: pass --model PATH (HF folder, .gguf or llama2.c .bin) or set PAGELLM_MODEL; "
      "scripts/default_model.sh downloads the default (stories260K) when online");
}

}  // namespace pagellm

namespace {
void Usage() {
  std::fprintf(stderr,
               "usage: pagellm <command> [options]\n\n"
               "commands:\n"
               "  serve        OpenAI-compatible HTTP server\n"
               "  generate     generate text for prompts (offline)\n"
               "  bench        benchmarks: latency (pp/tg), throughput (offline), serve (HTTP load)\n"
               "  make-model   write a random-weight Llama model (HF folder and/or GGUF)\n\n"
               "`pagellm <command> --help` lists a command's options.\n");
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    Usage();
    return 2;
  }
  const std::string_view cmd = argv[1];
  if (cmd == "generate") return pagellm::GenerateMain(argc, argv);
  if (cmd == "serve") return pagellm::ServeMain(argc, argv);
  if (cmd == "bench") return pagellm::BenchMain(argc, argv);
  if (cmd == "make-model") return pagellm::MakeModelMain(argc - 1, argv + 1);
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    Usage();
    return 0;
  }
  std::fprintf(stderr, "pagellm: unknown command '%s'\n", argv[1]);
  Usage();
  return 2;
}
