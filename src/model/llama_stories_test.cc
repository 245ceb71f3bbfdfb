// End-to-end check of LlamaModel on a real pretrained model (stories260K from ../shared): greedy
// decoding from BOS reproduces the published token ids (Hugging Face reference) and text
// (llama2.c run.c), from each of the three file formats, and matches the oracle's logits.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/model/llama.h"
#include "src/model/loader.h"
#include "src/model/reference_llama_testutil.h"
#include "src/testing/testing.h"

namespace pagellm {
namespace {

// Greedy decoding from BOS, one token per Forward (decode path), block size 16.
std::vector<TokenId> Greedy(LlamaModel& model, int steps, ThreadPool& pool) {
  constexpr int64_t kBlock = 16;
  const int64_t vocab = model.config().vocab_size;
  KvStorage kv(model.KvSpec(kBlock, (steps + kBlock) / kBlock + 1));
  std::vector<BlockId> table;
  for (BlockId b = kv.num_blocks() - 1; b >= 0; --b) table.push_back(b);  // non-identity mapping
  std::vector<TokenId> out;
  TokenId token = 1;  // BOS
  std::vector<float> logits(vocab);
  for (int32_t pos = 0; pos < steps; ++pos) {
    const int64_t slot = static_cast<int64_t>(table[pos / kBlock]) * kBlock + pos % kBlock;
    const BatchSequence seq{table, pos + 1};
    const int32_t zero = 0;
    ForwardBatch batch{{&token, 1}, {&pos, 1}, {&zero, 1}, {&slot, 1}, {&seq, 1}, {&zero, 1}};
    const Status st = model.Forward(batch, kv, pool, logits);
    EXPECT_TRUE(st.ok()) << st;
    if (!st.ok()) break;
    token = static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    out.push_back(token);
  }
  return out;
}

std::vector<TokenId> ReadTokenList(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<TokenId> ids;
  for (char& c : text) {
    if (c == '[' || c == ']' || c == ',') c = ' ';
  }
  std::istringstream ss(text);
  for (TokenId t; ss >> t;) ids.push_back(t);
  return ids;
}

StatusOr<std::unique_ptr<LlamaModel>> Load(const std::filesystem::path& path) {
  LoadOptions options;
  options.show_progress = false;
  options.max_model_len = 512;  // the GGUF says 128, the model was trained on 512
  ASSIGN_OR_RETURN(LoadedModel loaded, LoadModel(path.string(), options));
  return LlamaModel::Create(loaded.config, std::move(loaded.weights));
}

TEST(LlamaStoriesTest, GreedyTokensMatchHuggingFaceReferenceInEveryFormat) {
  PAGELLM_REQUIRE_SHARED(ref_ids, "models/stories260K/hf/sample_greedy_pyref.txt");
  PAGELLM_REQUIRE_SHARED(hf, "models/stories260K/hf");
  PAGELLM_REQUIRE_SHARED(gguf, "models/stories260K/gguf/stories260K.gguf");
  PAGELLM_REQUIRE_SHARED(bin, "models/stories260K/llama2c/stories260K.bin");
  const std::vector<TokenId> want = ReadTokenList(ref_ids);
  ASSERT_GT(want.size(), 10u);
  ThreadPool pool(2);
  for (const auto& path : {hf, gguf, bin}) {
    auto model = Load(path);
    ASSERT_TRUE(model.ok()) << path << ": " << model.status();
    EXPECT_EQ(Greedy(**model, static_cast<int>(want.size()), pool), want) << path << " with " << (*model)->kernels().name();
  }
}

// run.c's published greedy sample (256 steps from BOS), decoded with tok512.vocab.
TEST(LlamaStoriesTest, GreedyTextMatchesLlama2cSample) {
  PAGELLM_REQUIRE_SHARED(sample, "models/stories260K/greedy-reference.txt");
  PAGELLM_REQUIRE_SHARED(vocab_file, "models/stories260K/llama2c/tok512.vocab");
  PAGELLM_REQUIRE_SHARED(bin, "models/stories260K/llama2c/stories260K.bin");
  std::vector<std::string> pieces;
  {
    std::ifstream in(vocab_file);
    for (std::string line; std::getline(in, line);) pieces.push_back(line.substr(0, line.find('\t')));
  }
  std::ifstream in(sample);
  std::string want((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  want = want.substr(0, want.find("achieved tok/s"));
  ThreadPool pool(2);
  auto model = Load(bin);
  ASSERT_TRUE(model.ok()) << model.status();
  std::string text;
  for (TokenId t : Greedy(**model, 256, pool)) {
    ASSERT_LT(t, static_cast<TokenId>(pieces.size()));
    const std::string& p = pieces[t];
    if (p.size() == 6 && p.rfind("<0x", 0) == 0) {
      text += static_cast<char>(std::stoi(p.substr(3, 2), nullptr, 16));
      continue;
    }
    for (size_t i = 0; i < p.size(); ++i) {
      if (p.compare(i, 3, "\xe2\x96\x81") == 0) {  // U+2581 marks a space
        text += ' ';
        i += 2;
      } else {
        text += p[i];
      }
    }
  }
  if (!text.empty() && text[0] == ' ') text.erase(0, 1);  // run.c drops the space after BOS
  ASSERT_GE(text.size(), want.size());
  EXPECT_EQ(text.substr(0, want.size()), want);
}

// The paged forward pass and the double-precision oracle agree on the real weights too.
TEST(LlamaStoriesTest, RealWeightsMatchOracle) {
  PAGELLM_REQUIRE_SHARED(hf, "models/stories260K/hf");
  LoadOptions options;
  options.show_progress = false;
  auto loaded = LoadModel(hf.string(), options);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const testing::ReferenceLlama oracle(loaded->config, loaded->weights);
  auto model = LlamaModel::Create(loaded->config, std::move(loaded->weights));
  ASSERT_TRUE(model.ok()) << model.status();
  const std::vector<TokenId> prompt = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315};
  ThreadPool pool(2);
  KvStorage kv((*model)->KvSpec(4, 8));
  const std::vector<BlockId> table = {6, 1, 4, 3};
  std::vector<int32_t> positions, seq_idx(prompt.size(), 0), logits_idx;
  std::vector<int64_t> slots;
  for (int32_t p = 0; p < static_cast<int32_t>(prompt.size()); ++p) {
    positions.push_back(p);
    logits_idx.push_back(p);
    slots.push_back(table[p / 4] * 4 + p % 4);
  }
  const BatchSequence seq{table, static_cast<int32_t>(prompt.size())};
  const ForwardBatch batch{prompt, positions, seq_idx, slots, {&seq, 1}, logits_idx};
  const int64_t vocab = loaded->config.vocab_size;
  std::vector<float> logits(prompt.size() * vocab);
  ASSERT_TRUE((*model)->Forward(batch, kv, pool, logits).ok());
  testing::ReferenceLlama::Sequence ref_seq = oracle.NewSequence();
  double max_diff = 0.0, scale = 1.0;
  for (size_t i = 0; i < prompt.size(); ++i) {
    const std::vector<double> want = oracle.Step(ref_seq, prompt[i]);
    for (int64_t j = 0; j < vocab; ++j) {
      max_diff = std::max(max_diff, std::fabs(logits[i * vocab + j] - want[j]));
      scale = std::max(scale, std::fabs(want[j]));
    }
  }
  std::printf("stories260K prefill of %zu tokens (%s): max |logit - oracle| %.3g (logit scale %.3g)\n",
              prompt.size(), std::string((*model)->kernels().name()).c_str(), max_diff, scale);
  EXPECT_LE(max_diff, 2e-5 * scale);
}

}  // namespace
}  // namespace pagellm
