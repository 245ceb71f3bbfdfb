// `pagellm generate` as a user runs it: greedy stories260K from BOS equals the published sample
// for every file format; bad flags and bad models fail with a message and a non-zero exit.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "src/testing/testing.h"

namespace {

struct CliRun {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

CliRun RunPagellm(const std::string& args) {
  pagellm::testing::TempDir dir;
  const std::string err_path = (dir / "stderr").string();
  const std::string cmd = std::string(PAGELLM_BINARY) + " " + args + " 2>" + err_path;
  CliRun r;
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

class GenerateCliTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GenerateCliTest, GreedyStoriesMatchesThePublishedSample) {
  PAGELLM_REQUIRE_SHARED(reference, "models/stories260K/greedy-reference.txt");
  PAGELLM_REQUIRE_SHARED(model, GetParam());
  std::ifstream in(reference);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string expected = ss.str();
  expected.resize(expected.find("achieved tok/s"));  // run.c's speed line follows the text
  const CliRun r = RunPagellm("generate --model '" + model.string() +
                           "' --prompt '' --temperature 0 --max-tokens 256 --max-model-len 512");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, expected + "\n");
  EXPECT_NE(r.err.find("tokens/s"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Formats, GenerateCliTest,
                         ::testing::Values("models/stories260K/hf",
                                           "models/stories260K/gguf/stories260K.gguf",
                                           "models/stories260K/llama2c/stories260K.bin"));

TEST(GenerateCliErrorsTest, BadInputsExitWithAMessage) {
  pagellm::testing::TempDir dir;
  std::ofstream(dir / "junk.gguf") << "GGUF but not really";
  const std::pair<std::string, std::string> cases[] = {
      {"generate --model " + (dir / "missing").string(), "missing"},
      {"generate --model " + (dir / "junk.gguf").string(), "junk.gguf"},
      {"generate --no-such-flag 1", "--no-such-flag"},
      {"generate --temperature abc", "--temperature"},
      {"frobnicate", "unknown command"},
  };
  for (const auto& [args, needle] : cases) {
    const CliRun r = RunPagellm(args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << "\n" << r.err;
  }
}

TEST(GenerateCliErrorsTest, InvalidSamplingParametersAreRefused) {
  PAGELLM_REQUIRE_SHARED(model, "models/stories260K/hf");
  const CliRun r = RunPagellm("generate --model '" + model.string() + "' --prompt hi --top-p 2");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("top_p"), std::string::npos) << r.err;
}

}  // namespace
