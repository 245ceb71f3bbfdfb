// Quantized weights end to end: GGUF files with Q8_0 / Q4_0 tensors load and their forward pass
// matches the double-precision oracle (which dequantizes the same blocks exactly); load-time
// conversion (LoadOptions::dtype / quantization) is exact where it should be; stories260K
// quantized at load still decodes close to the published greedy reference.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/base/half.h"
#include "src/kernels/quantize.h"
#include "src/model/llama.h"
#include "src/model/loader.h"
#include "src/model/loader_testutil.h"
#include "src/model/reference_llama_testutil.h"
#include "src/testing/testing.h"

namespace pagellm {
namespace {

using ::testing::HasSubstr;

// hidden 64, ffn 96, q_dim 64: every matrix row is whole 32-blocks. Untied (output.weight too).
ModelConfig QuantConfig() {
  ModelConfig c = testing::TinyConfig();
  c.hidden_size = 64;
  c.intermediate_size = 96;
  c.head_dim = 16;
  c.tie_word_embeddings = false;
  return c;
}

std::filesystem::path TempPath(const std::string& name) {
  return std::filesystem::path(::testing::TempDir()) / name;
}

// Logits of every position of `prompt` run as one prefill chunk.
std::vector<float> Prefill(LlamaModel& model, const std::vector<TokenId>& prompt, ThreadPool& pool) {
  const int64_t blocks = static_cast<int64_t>(prompt.size() + 3) / 4 + 1;
  KvStorage kv(model.KvSpec(4, blocks));
  std::vector<BlockId> table;
  for (BlockId b = static_cast<BlockId>(blocks) - 1; b >= 0; --b) table.push_back(b);  // not identity
  std::vector<int32_t> positions, seq_idx(prompt.size(), 0), logits_idx;
  std::vector<int64_t> slots;
  for (int32_t p = 0; p < static_cast<int32_t>(prompt.size()); ++p) {
    positions.push_back(p);
    logits_idx.push_back(p);
    slots.push_back(table[p / 4] * 4 + p % 4);
  }
  const BatchSequence seq{table, static_cast<int32_t>(prompt.size())};
  const ForwardBatch batch{prompt, positions, seq_idx, slots, {&seq, 1}, logits_idx};
  std::vector<float> logits(prompt.size() * model.config().vocab_size);
  const Status st = model.Forward(batch, kv, pool, logits);
  EXPECT_TRUE(st.ok()) << st;
  return logits;
}

// max |logit - oracle| over the prompt's positions, and the largest |oracle logit|.
std::pair<double, double> CompareWithOracle(const testing::ReferenceLlama& oracle, const std::vector<TokenId>& prompt,
                                            const std::vector<float>& logits, int64_t vocab) {
  testing::ReferenceLlama::Sequence seq = oracle.NewSequence();
  double max_diff = 0.0, scale = 1.0;
  for (size_t i = 0; i < prompt.size(); ++i) {
    const std::vector<double> want = oracle.Step(seq, prompt[i]);
    for (int64_t j = 0; j < vocab; ++j) {
      max_diff = std::max(max_diff, std::fabs(logits[i * vocab + j] - want[j]));
      scale = std::max(scale, std::fabs(want[j]));
    }
  }
  return {max_diff, scale};
}

TEST(QuantizedModelTest, GgufBlockTypesLoadAndMatchOracle) {
  const ModelConfig c = QuantConfig();
  const std::vector<TokenId> prompt = {1, 17, 42, 5, 63, 8, 8, 30, 2, 11, 50, 7};
  ThreadPool pool(2);
  for (DType dtype : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kIQ4_NL}) {
    SCOPED_TRACE(DTypeName(dtype));
    const auto path = TempPath(StrCat("quant_", DTypeName(dtype), ".gguf"));
    // Matrices rescaled to ~N(0, 1/k) (the loader utilities draw N(0, 0.25) for any k): a
    // well-conditioned model, so the comparison measures rounding rather than chaos.
    std::vector<testing::FakeTensor> tensors = testing::GgufTensors(c, 5, dtype);
    for (testing::FakeTensor& t : tensors) {
      if (t.shape.size() == 2 && t.name != "token_embd.weight") {
        for (float& v : t.values) v *= 2.0f / std::sqrt(static_cast<float>(t.shape[1]));
      }
    }
    ASSERT_TRUE(testing::WriteGguf(path, c, tensors).ok());
    LoadOptions options;
    options.show_progress = false;
    auto loaded = LoadModel(path.string(), options);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->weights.embed.dtype, dtype);
    EXPECT_EQ(loaded->weights.lm_head.dtype, dtype);
    EXPECT_EQ(loaded->weights.layers[1].w_down.dtype, dtype);
    EXPECT_EQ(loaded->weights.final_norm.dtype, DType::kF32);
    const testing::ReferenceLlama oracle(loaded->config, loaded->weights);
    for (KernelIsa isa : Kernels::Available()) {
      auto again = LoadModel(path.string(), options);
      ASSERT_TRUE(again.ok()) << again.status();
      auto model = LlamaModel::Create(again->config, std::move(again->weights), Kernels::ForIsa(isa));
      ASSERT_TRUE(model.ok()) << model.status();
      // VNNI tables run Q4_0 / Q8_0 / Q5_0 / IQ4_NL matrices repacked (every row count here is a
      // multiple of 16); Q4_1 / Q5_1 stay; the embedding keeps its rows for the lookup.
      const DType packed = dtype == DType::kQ4_0    ? DType::kQ4_0x16
                           : dtype == DType::kQ8_0  ? DType::kQ8_0x16
                           : dtype == DType::kQ5_0  ? DType::kQ5_0x16
                           : dtype == DType::kIQ4_NL ? DType::kIQ4_NLx16
                                                     : dtype;
      const DType want = Kernels::ForIsa(isa)->SupportsWeights(packed) ? packed : dtype;
      const ModelWeights& mw = (*model)->weights();
      EXPECT_EQ(mw.layers[1].w_down.dtype, want) << KernelIsaName(isa);
      EXPECT_EQ(mw.lm_head.dtype, want) << KernelIsaName(isa);
      EXPECT_EQ(mw.embed.dtype, dtype);
      const auto [diff, scale] = CompareWithOracle(oracle, prompt, Prefill(**model, prompt, pool), c.vocab_size);
      std::printf("GGUF %s, %-10s: max |logit - oracle| %.3g (logit scale %.3g)\n",
                  std::string(DTypeName(dtype)).c_str(), std::string(KernelIsaName(isa)).c_str(), diff, scale);
      // Scalar: exact weights, f32 activations, like the F32 model (llama_test's bound). SIMD:
      // activations rounded to int8 per 32-block before each of the 7 matmuls of a layer (relative
      // error up to 1/254 of the block's largest value per element: ~0.5% rms per matmul output,
      // see kernels_test), through 2 layers and the lm_head: measured 1.2% (Q8_0) and 1.5% (Q4_0)
      // of the logit scale; the bound is 4%.
      EXPECT_LE(diff, (isa == KernelIsa::kScalar ? 2e-5 : 4e-2) * scale) << KernelIsaName(isa);
    }
  }
}

// The Q4_0x16 repack in its three cases - owned weights rearranged in place (default load),
// weights in the file mapping copied (--mmap), a head tied to the embedding copied - gives the
// same logits, bit for bit; the embedding keeps its Q4_0 rows.
TEST(QuantizedModelTest, Q4RepackInPlaceMappedAndTiedAgree) {
  const Kernels* vnni = &Kernels::Default();
  if (!vnni->SupportsWeights(DType::kQ4_0x16)) GTEST_SKIP() << "no Q4_0x16 kernels on this CPU";
  ModelConfig c = QuantConfig();
  c.tie_word_embeddings = true;
  const std::vector<TokenId> prompt = {1, 17, 42, 5, 63, 8, 8, 30};
  ThreadPool pool(2);
  const auto path = TempPath("quant_tied_q4.gguf");
  ASSERT_TRUE(testing::WriteGguf(path, c, testing::GgufTensors(c, 9, DType::kQ4_0)).ok());
  std::vector<std::vector<float>> logits;
  for (bool use_mmap : {false, true}) {
    LoadOptions options;
    options.show_progress = false;
    options.use_mmap = use_mmap;
    auto loaded = LoadModel(path.string(), options);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    ASSERT_EQ(loaded->weights.lm_head.data, loaded->weights.embed.data);  // tied
    const void* wq_before = loaded->weights.layers[0].wq.data;
    const bool wq_owned = loaded->weights.IsOwned(wq_before);
    EXPECT_EQ(wq_owned, !use_mmap);
    auto model = LlamaModel::Create(loaded->config, std::move(loaded->weights), vnni);
    ASSERT_TRUE(model.ok()) << model.status();
    const ModelWeights& w = (*model)->weights();
    EXPECT_EQ(w.embed.dtype, DType::kQ4_0);
    EXPECT_EQ(w.lm_head.dtype, DType::kQ4_0x16);
    EXPECT_NE(w.lm_head.data, w.embed.data);
    EXPECT_EQ(w.layers[0].wq.dtype, DType::kQ4_0x16);
    EXPECT_EQ(w.layers[0].wq.data == wq_before, !use_mmap) << "in place only when owned";
    EXPECT_TRUE(w.IsOwned(w.layers[0].wq.data));
    logits.push_back(Prefill(**model, prompt, pool));
  }
  EXPECT_EQ(logits[0], logits[1]);
}

// Q5_0 matrices repacked to Q5_0x16 at load (owned: in place; --mmap: an owned copy of the
// mapping; tied head: the embedding keeps the Q5_0 rows) hold exactly the Q5_0 values and give the
// same logits, bit for bit, as each other.
TEST(QuantizedModelTest, Q5_0RepackedToQ5_0x16Exactly) {
  const Kernels* vnni = &Kernels::Default();
  if (!vnni->SupportsWeights(DType::kQ5_0x16)) GTEST_SKIP() << "no Q5_0x16 kernels on this CPU";
  const std::vector<TokenId> prompt = {1, 17, 42, 5, 63, 8, 8, 30};
  ThreadPool pool(2);
  for (bool tied : {false, true}) {
    ModelConfig c = QuantConfig();
    c.tie_word_embeddings = tied;
    const auto path = TempPath(StrCat("quant_q5_0_", tied ? "tied" : "untied", ".gguf"));
    ASSERT_TRUE(testing::WriteGguf(path, c, testing::GgufTensors(c, 9, DType::kQ5_0)).ok());
    std::vector<std::vector<float>> logits;
    for (bool use_mmap : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "tied " << tied << " mmap " << use_mmap);
      LoadOptions options;
      options.show_progress = false;
      options.use_mmap = use_mmap;
      auto loaded = LoadModel(path.string(), options);
      ASSERT_TRUE(loaded.ok()) << loaded.status();
      const TensorView wq = loaded->weights.layers[0].wq;
      const TensorView head = loaded->weights.lm_head;
      std::vector<float> wq_values(static_cast<size_t>(wq.numel())), head_values(static_cast<size_t>(head.numel()));
      DequantizeRow(DType::kQ5_0, static_cast<const uint8_t*>(wq.data), wq.numel(), wq_values.data());
      DequantizeRow(DType::kQ5_0, static_cast<const uint8_t*>(head.data), head.numel(), head_values.data());
      auto model = LlamaModel::Create(loaded->config, std::move(loaded->weights), vnni);
      ASSERT_TRUE(model.ok()) << model.status();
      const ModelWeights& w = (*model)->weights();
      EXPECT_EQ(w.embed.dtype, DType::kQ5_0);
      ASSERT_EQ(w.lm_head.dtype, DType::kQ5_0x16);
      ASSERT_EQ(w.layers[0].wq.dtype, DType::kQ5_0x16);
      ASSERT_EQ(w.layers[1].w_down.dtype, DType::kQ5_0x16);
      EXPECT_TRUE(w.IsOwned(w.layers[0].wq.data));
      // Unpacked and dequantized: the Q5_0 values, bit for bit.
      for (const auto& [view, want] : {std::pair{&w.layers[0].wq, &wq_values}, std::pair{&w.lm_head, &head_values}}) {
        const int64_t n = view->shape[0], k = view->shape[1];
        std::vector<uint8_t> q5(static_cast<size_t>(*BytesFor(DType::kQ5_0, static_cast<uint64_t>(n * k))));
        UnpackQ5_0x16(static_cast<const uint8_t*>(view->data), n, k, q5.data());
        std::vector<float> got(static_cast<size_t>(n * k));
        DequantizeRow(DType::kQ5_0, q5.data(), n * k, got.data());
        EXPECT_EQ(std::memcmp(got.data(), want->data(), got.size() * 4), 0);
      }
      // The tied embedding still reads its Q5_0 rows.
      if (tied) {
        std::vector<float> row(static_cast<size_t>(c.hidden_size)), want(row.size());
        const TokenId token = 7;
        vnni->EmbeddingLookup(w.embed, {&token, 1}, row.data());
        std::memcpy(want.data(), head_values.data() + 7 * c.hidden_size, want.size() * 4);
        EXPECT_EQ(row, want);
      }
      logits.push_back(Prefill(**model, prompt, pool));
    }
    EXPECT_EQ(logits[0], logits[1]);
  }
}

TEST(QuantizedModelTest, TruncatedQuantizedGgufIsAnError) {
  const ModelConfig c = QuantConfig();
  const auto path = TempPath("quant_truncated.gguf");
  ASSERT_TRUE(testing::WriteGguf(path, c, testing::GgufTensors(c, 5, DType::kQ4_0)).ok());
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 7);
  auto loaded = LoadModel(path.string());
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr("past the end"));
}

// Bytes of every matrix of two loads are identical.
void ExpectSameMatrices(const ModelWeights& a, const ModelWeights& b) {
  auto same = [](const TensorView& x, const TensorView& y, const std::string& what) {
    ASSERT_EQ(x.dtype, y.dtype) << what;
    ASSERT_EQ(x.ShapeString(), y.ShapeString()) << what;
    EXPECT_EQ(std::memcmp(x.data, y.data, x.nbytes()), 0) << what;
  };
  same(a.embed, b.embed, "embed");
  same(a.lm_head, b.lm_head, "lm_head");
  for (size_t l = 0; l < a.layers.size(); ++l) {
    for (auto m : {&LayerWeights::wq, &LayerWeights::wk, &LayerWeights::wv, &LayerWeights::wo,
                   &LayerWeights::w_gate, &LayerWeights::w_up, &LayerWeights::w_down}) {
      same(a.layers[l].*m, b.layers[l].*m, StrCat("layer ", l));
    }
  }
}

TEST(QuantizedModelTest, LoadTimeConversion) {
  const ModelConfig c = QuantConfig();
  const auto f32_dir = TempPath("conv_f32"), bf16_dir = TempPath("conv_bf16"), q8_gguf = TempPath("conv_q8.gguf");
  ASSERT_TRUE(testing::WriteHfFolder(f32_dir, testing::HfConfigJson(c), testing::HfTensors(c, 9, DType::kF32)).ok());
  ASSERT_TRUE(testing::WriteHfFolder(bf16_dir, testing::HfConfigJson(c), testing::HfTensors(c, 9, DType::kBF16)).ok());
  LoadOptions plain;
  plain.show_progress = false;
  auto f32 = LoadModel(f32_dir.string(), plain);
  auto bf16 = LoadModel(bf16_dir.string(), plain);
  ASSERT_TRUE(f32.ok() && bf16.ok());

  // F32 -> BF16 at load == a checkpoint written in BF16 (both round to nearest even).
  LoadOptions to_bf16 = plain;
  to_bf16.dtype = DType::kBF16;
  auto converted = LoadModel(f32_dir.string(), to_bf16);
  ASSERT_TRUE(converted.ok()) << converted.status();
  ExpectSameMatrices(converted->weights, bf16->weights);
  EXPECT_EQ(converted->weights.final_norm.dtype, DType::kF32);

  // BF16 -> F32 is exact widening: the model computes the same logits as from the BF16 file.
  LoadOptions to_f32 = plain;
  to_f32.dtype = DType::kF32;
  auto widened = LoadModel(bf16_dir.string(), to_f32);
  ASSERT_TRUE(widened.ok()) << widened.status();
  auto values = [](const TensorView& v) {
    std::vector<float> out(static_cast<size_t>(v.numel()));
    for (int64_t r = 0; r < v.shape[0]; ++r) DequantizeRow(v.dtype, v.row(r), v.shape[1], out.data() + r * v.shape[1]);
    return out;
  };
  EXPECT_EQ(widened->weights.layers[0].wq.dtype, DType::kF32);
  EXPECT_EQ(values(widened->weights.layers[0].wq), values(bf16->weights.layers[0].wq));
  EXPECT_EQ(values(widened->weights.embed), values(bf16->weights.embed));
  EXPECT_EQ(values(widened->weights.lm_head), values(bf16->weights.lm_head));

  // F32 -> Q8_0 / Q4_0 == QuantizeRow of the F32 rows; norms stay F32; the model runs.
  for (DType q : {DType::kQ8_0, DType::kQ4_0}) {
    LoadOptions to_q = plain;
    to_q.quantization = q;
    to_q.dtype = DType::kBF16;  // quantization wins
    auto quant = LoadModel(f32_dir.string(), to_q);
    ASSERT_TRUE(quant.ok()) << quant.status();
    for (const auto& [got, src] : {std::pair{quant->weights.embed, f32->weights.embed},
                                   std::pair{quant->weights.layers[1].w_down, f32->weights.layers[1].w_down}}) {
      ASSERT_EQ(got.dtype, q);
      std::vector<uint8_t> want(src.shape[0] * *BytesFor(q, src.shape[1]));
      for (int64_t r = 0; r < src.shape[0]; ++r) {
        QuantizeRow(q, reinterpret_cast<const float*>(src.row(r)), src.shape[1], want.data() + r * *BytesFor(q, src.shape[1]));
      }
      EXPECT_EQ(std::memcmp(got.data, want.data(), want.size()), 0);
    }
    EXPECT_EQ(quant->weights.layers[0].attn_norm.dtype, DType::kF32);
    auto model = LlamaModel::Create(quant->config, std::move(quant->weights));
    ASSERT_TRUE(model.ok()) << model.status();
  }

  // Rows that are not whole blocks are not quantized (kept as stored, or in dtype), with a warning.
  const ModelConfig odd = testing::TinyConfig();  // intermediate 48: w_down rows of 48
  const auto odd_dir = TempPath("conv_odd");
  ASSERT_TRUE(testing::WriteHfFolder(odd_dir, testing::HfConfigJson(odd), testing::HfTensors(odd, 9)).ok());
  LoadOptions to_q8 = plain;
  to_q8.quantization = DType::kQ8_0;
  auto partly = LoadModel(odd_dir.string(), to_q8);
  ASSERT_TRUE(partly.ok()) << partly.status();
  EXPECT_EQ(partly->weights.layers[0].w_gate.dtype, DType::kQ8_0);
  EXPECT_EQ(partly->weights.layers[0].w_down.dtype, DType::kF32);
  EXPECT_THAT(partly->warnings, ::testing::Contains(HasSubstr("2 weight matrices were not quantized to Q8_0")));
  to_q8.dtype = DType::kBF16;
  partly = LoadModel(odd_dir.string(), to_q8);
  ASSERT_TRUE(partly.ok()) << partly.status();
  EXPECT_EQ(partly->weights.layers[1].w_down.dtype, DType::kBF16);
  EXPECT_TRUE(LlamaModel::Create(partly->config, std::move(partly->weights)).ok());
  // Option values that are not conversions of their kind are refused.
  LoadOptions wrong = plain;
  wrong.dtype = DType::kQ8_0;
  EXPECT_FALSE(LoadModel(f32_dir.string(), wrong).ok());
  EXPECT_TRUE(ParseQuantization("Q4_0").ok());
  EXPECT_FALSE(ParseQuantization("awq").ok());
  EXPECT_FALSE(ParseWeightDType("fp8").ok());
  EXPECT_EQ(*ParseWeightDType("bfloat16"), DType::kBF16);
  EXPECT_FALSE(ParseWeightDType("auto")->has_value());
}

// stories260K quantized at load: greedy decoding from BOS stays close to the published reference
// (activation and weight rounding eventually flip a near-tie argmax; everything before it agrees).
TEST(QuantizedModelTest, Stories260KQuantizedGreedyStaysCloseToReference) {
  PAGELLM_REQUIRE_SHARED(ref_ids, "models/stories260K/hf/sample_greedy_pyref.txt");
  PAGELLM_REQUIRE_SHARED(hf, "models/stories260K/hf");
  std::vector<TokenId> want;
  {
    std::ifstream in(ref_ids);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (char& ch : text) {
      if (ch == '[' || ch == ']' || ch == ',') ch = ' ';
    }
    std::istringstream ss(text);
    for (TokenId t; ss >> t;) want.push_back(t);
  }
  ASSERT_GT(want.size(), 10u);
  ThreadPool pool(2);
  struct Case {
    const char* name;
    std::optional<DType> dtype, quantization;
    size_t min_equal;  // tokens that must match the reference
  };
  const size_t all = want.size();
  // Measured on AVX-512: f32 45/45 (the checkpoint is F32: a no-op), bf16 45/45, q8_0 45/45,
  // q4_0 27/45 (stories260K's w_down rows of 172 values stay F32 in the quantized runs).
  const Case cases[] = {{"f32", DType::kF32, std::nullopt, all},
                        {"bf16", DType::kBF16, std::nullopt, 30},
                        {"q8_0", std::nullopt, DType::kQ8_0, 30},
                        {"q4_0", std::nullopt, DType::kQ4_0, 12}};
  for (const Case& cs : cases) {
    LoadOptions options;
    options.show_progress = false;
    options.max_model_len = 512;
    options.dtype = cs.dtype;
    options.quantization = cs.quantization;
    auto loaded = LoadModel(hf.string(), options);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    auto model = LlamaModel::Create(loaded->config, std::move(loaded->weights));
    ASSERT_TRUE(model.ok()) << model.status();
    // Greedy decode one token per step.
    std::vector<TokenId> got;
    std::vector<TokenId> seq = {1};
    for (size_t step = 0; step < want.size(); ++step) {
      const std::vector<float> logits = Prefill(**model, seq, pool);
      const float* last = logits.data() + (seq.size() - 1) * (*model)->config().vocab_size;
      const TokenId t = static_cast<TokenId>(std::max_element(last, last + (*model)->config().vocab_size) - last);
      got.push_back(t);
      seq.push_back(t);
    }
    size_t equal = 0;
    while (equal < want.size() && got[equal] == want[equal]) ++equal;
    std::printf("stories260K %-4s (%s kernels): first %zu of %zu greedy tokens equal the reference\n", cs.name,
                std::string((*model)->kernels().name()).c_str(), equal, want.size());
    EXPECT_GE(equal, cs.min_equal) << cs.name;
  }
}

}  // namespace
}  // namespace pagellm
