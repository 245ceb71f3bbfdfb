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

using CliRun = pagellm::testing::CommandResult;

CliRun RunPagellm(const std::string& args) { return pagellm::testing::RunCommand(std::string(PAGELLM_BINARY) + " " + args); }

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
