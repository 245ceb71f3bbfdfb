// Tests of make-model: files load through LoadModel in both formats as the same model, the
// tokenizer files are valid and consistent, values are seeded, non-zero and of the intended scale.
#include "tools/make_model.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <tuple>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/base/half.h"
#include "src/format/gguf.h"
#include "src/kernels/quantize.h"
#include "src/model/llama.h"
#include "src/model/loader.h"
#include "src/model/reference_llama_testutil.h"
#include "src/testing/testing.h"
#include "tools/make_model_vocab.h"

namespace pagellm {
namespace {

using ::testing::HasSubstr;

std::vector<float> Widen(const TensorView& v) {
  std::vector<float> out(static_cast<size_t>(v.numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    if (v.dtype == DType::kF32) {
      std::memcpy(&out[i], static_cast<const uint8_t*>(v.data) + 4 * i, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, static_cast<const uint8_t*>(v.data) + 2 * i, 2);
      out[i] = v.dtype == DType::kF16 ? F16ToF32(h) : Bf16ToF32(h);
    }
  }
  return out;
}

bool SameBytes(const TensorView& a, const TensorView& b) {
  return a.ShapeString() == b.ShapeString() && a.dtype == b.dtype &&
         std::memcmp(a.data, b.data, a.nbytes()) == 0;
}

// interleaved row h*hd + 2i + j == HF row h*hd + j*hd/2 + i.
bool PermutedRows(const TensorView& hf, const TensorView& gg, int64_t heads, int64_t hd) {
  if (hf.ShapeString() != gg.ShapeString()) return false;
  const int64_t cols = hf.dim(1);
  const std::vector<float> a = Widen(hf), b = Widen(gg);
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < hd / 2; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t gr = h * hd + 2 * i + j, hr = h * hd + j * hd / 2 + i;
        if (std::memcmp(&b[static_cast<size_t>(gr * cols)], &a[static_cast<size_t>(hr * cols)],
                        static_cast<size_t>(cols) * 4) != 0) {
          return false;
        }
      }
    }
  }
  return true;
}

int RunMakeModel(std::vector<std::string> args) {
  args.insert(args.begin(), "make-model");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return MakeModelMain(static_cast<int>(argv.size()), argv.data());
}

std::string ReadText(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void ExpectSameModel(const LoadedModel& hf, const LoadedModel& gg, bool interleaved) {
  const ModelConfig& a = hf.config;
  const ModelConfig& b = gg.config;
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  EXPECT_EQ(a.num_layers, b.num_layers);
  EXPECT_EQ(a.num_heads, b.num_heads);
  EXPECT_EQ(a.num_kv_heads, b.num_kv_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.max_position_embeddings, b.max_position_embeddings);
  EXPECT_NEAR(a.rms_norm_eps, b.rms_norm_eps, 1e-10);
  EXPECT_DOUBLE_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
  EXPECT_EQ(a.qkv_bias, b.qkv_bias);
  EXPECT_EQ(a.qk_norm, b.qk_norm);
  EXPECT_EQ(a.bos_token_id, b.bos_token_id);
  EXPECT_EQ(a.eos_token_ids, b.eos_token_ids);
  EXPECT_EQ(a.rope_style, RopeStyle::kNeox);
  EXPECT_EQ(b.rope_style, interleaved ? RopeStyle::kInterleaved : RopeStyle::kNeox);
  EXPECT_TRUE(SameBytes(hf.weights.embed, gg.weights.embed));
  EXPECT_TRUE(SameBytes(hf.weights.lm_head, gg.weights.lm_head));
  EXPECT_TRUE(SameBytes(hf.weights.final_norm, gg.weights.final_norm));
  for (size_t l = 0; l < hf.weights.layers.size(); ++l) {
    SCOPED_TRACE(StrCat("layer ", l));
    const LayerWeights& x = hf.weights.layers[l];
    const LayerWeights& y = gg.weights.layers[l];
    for (auto [p, q] : {std::pair{&x.attn_norm, &y.attn_norm}, {&x.ffn_norm, &y.ffn_norm},
                        {&x.wv, &y.wv}, {&x.wo, &y.wo}, {&x.w_gate, &y.w_gate},
                        {&x.w_up, &y.w_up}, {&x.w_down, &y.w_down}}) {
      EXPECT_TRUE(SameBytes(*p, *q));
    }
    if (interleaved) {
      EXPECT_TRUE(PermutedRows(x.wq, y.wq, a.num_heads, a.head_dim));
      EXPECT_TRUE(PermutedRows(x.wk, y.wk, a.num_kv_heads, a.head_dim));
      EXPECT_FALSE(SameBytes(x.wq, y.wq));
    } else {
      EXPECT_TRUE(SameBytes(x.wq, y.wq));
      EXPECT_TRUE(SameBytes(x.wk, y.wk));
    }
    if (a.qkv_bias) {
      EXPECT_TRUE(SameBytes(x.bq, y.bq));
      EXPECT_TRUE(SameBytes(x.bk, y.bk));
      EXPECT_TRUE(SameBytes(x.bv, y.bv));
    }
    if (a.qk_norm) {
      EXPECT_TRUE(SameBytes(x.q_norm, y.q_norm));
      EXPECT_TRUE(SameBytes(x.k_norm, y.k_norm));
    }
  }
}

TEST(MakeModelTest, TinyPresetInBothFormatsIsOneModel) {
  testing::TempDir dir;
  ASSERT_EQ(RunMakeModel({"--out", dir.path().string(), "--format", "both", "--quiet"}), 0);
  auto hf = LoadModel(dir.path().string());
  ASSERT_TRUE(hf.ok()) << hf.status();
  auto gg = LoadModel((dir / "model.gguf").string());
  ASSERT_TRUE(gg.ok()) << gg.status();
  EXPECT_EQ(hf->config.hidden_size, 64);
  EXPECT_EQ(hf->config.num_layers, 2);
  EXPECT_EQ(hf->config.vocab_size, 512);
  EXPECT_EQ(hf->weights.embed.dtype, DType::kF32);
  ExpectSameModel(*hf, *gg, /*interleaved=*/true);
  EXPECT_TRUE(hf->unused_tensors.empty());
  EXPECT_TRUE(gg->unused_tensors.empty());
  EXPECT_FALSE(hf->tokenizer_json_path.empty());
  EXPECT_FALSE(hf->tokenizer_config_json_path.empty());
}

TEST(MakeModelTest, Qwen2ShapeWithBiasInBf16) {
  testing::TempDir dir;
  ASSERT_EQ(RunMakeModel({"--out", dir.path().string(), "--format=both", "--arch=qwen2", "--hidden", "96",
                 "--heads", "6", "--kv-heads", "2", "--layers", "3", "--ffn", "160", "--vocab",
                 "400", "--dtype", "bf16", "--tie", "--quiet"}),
            0);
  auto hf = LoadModel(dir.path().string());
  ASSERT_TRUE(hf.ok()) << hf.status();
  auto gg = LoadModel((dir / "model.gguf").string());
  ASSERT_TRUE(gg.ok()) << gg.status();
  EXPECT_EQ(hf->config.architecture, "qwen2");
  EXPECT_EQ(gg->config.architecture, "qwen2");
  EXPECT_TRUE(hf->config.qkv_bias);
  EXPECT_EQ(hf->config.head_dim, 16);
  EXPECT_EQ(hf->weights.embed.dtype, DType::kBF16);
  EXPECT_EQ(hf->weights.layers[0].bq.dtype, DType::kF32);  // converted from bf16 by the loader
  EXPECT_TRUE(hf->config.tie_word_embeddings);
  ExpectSameModel(*hf, *gg, /*interleaved=*/false);
}

TEST(MakeModelTest, Qwen3HeadDimAndF16) {
  testing::TempDir dir;
  ASSERT_EQ(RunMakeModel({"--out", dir.path().string(), "--format", "both", "--arch", "qwen3", "--hidden",
                 "64", "--heads", "4", "--kv-heads", "2", "--head-dim", "32", "--dtype", "f16",
                 "--quiet"}),
            0);
  auto hf = LoadModel(dir.path().string());
  ASSERT_TRUE(hf.ok()) << hf.status();
  auto gg = LoadModel((dir / "model.gguf").string());
  ASSERT_TRUE(gg.ok()) << gg.status();
  EXPECT_TRUE(hf->config.qk_norm);
  EXPECT_EQ(hf->config.q_dim(), 128);
  ExpectSameModel(*hf, *gg, /*interleaved=*/false);
}

// --gguf-type q8_0 / q4_0 / q4_1 / q5_0 / q5_1: GGUF matrices quantized per row from the HF values (rows that are not
// whole 32-blocks, tiny's ffn_down of 176, in F16), norms F32, llama.cpp's file_type.
TEST(MakeModelTest, QuantizedGgufTypes) {
  for (const auto& [name, dtype, file_type] :
       {std::tuple{"q8_0", DType::kQ8_0, 7u}, std::tuple{"q4_0", DType::kQ4_0, 2u}, std::tuple{"q4_1", DType::kQ4_1, 3u},
        std::tuple{"q5_0", DType::kQ5_0, 8u}, std::tuple{"q5_1", DType::kQ5_1, 9u}}) {
    SCOPED_TRACE(name);
    testing::TempDir dir;
    ASSERT_EQ(RunMakeModel({"--out", dir.path().string(), "--format", "both", "--gguf-type", name, "--quiet"}), 0);
    auto hf = LoadModel(dir.path().string());
    ASSERT_TRUE(hf.ok()) << hf.status();
    auto gg = LoadModel((dir / "model.gguf").string());
    ASSERT_TRUE(gg.ok()) << gg.status();
    EXPECT_EQ(hf->weights.embed.dtype, DType::kF32);
    EXPECT_EQ(gg->weights.embed.dtype, dtype);
    EXPECT_EQ(gg->weights.lm_head.dtype, dtype);
    EXPECT_EQ(gg->weights.layers[0].wq.dtype, dtype);
    EXPECT_EQ(gg->weights.layers[0].w_gate.dtype, dtype);
    EXPECT_EQ(gg->weights.layers[0].w_down.dtype, DType::kF16);
    EXPECT_EQ(gg->weights.layers[0].attn_norm.dtype, DType::kF32);
    EXPECT_EQ(gg->gguf->GetInt("general.file_type").value_or(999), static_cast<int64_t>(file_type));
    // wv (not permuted): each dequantized row within a quantization step of the HF row.
    const TensorView& a = hf->weights.layers[1].wv;
    const TensorView& b = gg->weights.layers[1].wv;
    ASSERT_EQ(a.ShapeString(), b.ShapeString());
    std::vector<float> row(static_cast<size_t>(b.shape[1]));
    for (int64_t r = 0; r < b.shape[0]; ++r) {
      DequantizeRow(b.dtype, b.row(r), b.shape[1], row.data());
      const float* want = reinterpret_cast<const float*>(a.row(r));
      float amax = 0.0f;
      for (int64_t i = 0; i < b.shape[1]; ++i) amax = std::max(amax, std::fabs(want[i]));
      for (int64_t i = 0; i < b.shape[1]; ++i) {
        ASSERT_LE(std::fabs(row[i] - want[i]), amax / (dtype == DType::kQ8_0 ? 127.0f : 7.0f)) << r << " " << i;
      }
    }
  }
  testing::TempDir dir;
  EXPECT_EQ(RunMakeModel({"--out", dir.path().string(), "--gguf-type", "iq2_xxs", "--quiet"}), 2);
}

TEST(MakeModelTest, ValuesAreSeededNonZeroAndSmall) {
  testing::TempDir a, b, c;
  ASSERT_EQ(RunMakeModel({"--out", a.path().string(), "--seed", "5", "--quiet"}), 0);
  ASSERT_EQ(RunMakeModel({"--out", b.path().string(), "--seed", "5", "--quiet"}), 0);
  ASSERT_EQ(RunMakeModel({"--out", c.path().string(), "--seed", "6", "--quiet"}), 0);
  EXPECT_EQ(ReadText(a / "model.safetensors"), ReadText(b / "model.safetensors"));
  EXPECT_NE(ReadText(a / "model.safetensors"), ReadText(c / "model.safetensors"));
  auto m = LoadModel(a.path().string());
  ASSERT_TRUE(m.ok()) << m.status();
  const std::vector<float> w = Widen(m->weights.layers[1].w_down);
  double sum = 0, sum2 = 0;
  for (float x : w) {
    ASSERT_NE(x, 0.0f);
    sum += x;
    sum2 += double{x} * x;
  }
  const double mean = sum / w.size(), std = std::sqrt(sum2 / w.size() - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.002);
  EXPECT_NEAR(std, 0.02, 0.002);
  for (float x : Widen(m->weights.layers[0].attn_norm)) {
    EXPECT_GT(x, 0.85f);
    EXPECT_LT(x, 1.15f);
  }
  // Different tensors get different values.
  EXPECT_NE(Widen(m->weights.layers[0].w_up), Widen(m->weights.layers[0].w_gate));
}

TEST(MakeModelTest, TokenizerFilesAreConsistent) {
  testing::TempDir dir;
  ASSERT_EQ(RunMakeModel({"--out", dir.path().string(), "--format", "both", "--vocab", "1000", "--quiet"}), 0);
  const auto tok = nlohmann::json::parse(ReadText(dir / "tokenizer.json"));
  const auto& vocab = tok["model"]["vocab"];
  ASSERT_EQ(vocab.size(), 1000u);
  EXPECT_EQ(tok["model"]["type"], "BPE");
  EXPECT_TRUE(tok["model"]["byte_fallback"].get<bool>());
  EXPECT_EQ(vocab["<unk>"], 0);
  EXPECT_EQ(vocab["<s>"], 1);
  EXPECT_EQ(vocab["</s>"], 2);
  EXPECT_EQ(vocab["<0x00>"], 3);
  EXPECT_EQ(vocab["<0xFF>"], 258);
  std::set<int> ids;
  for (const auto& [piece, id] : vocab.items()) ids.insert(id.get<int>());
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_EQ(*ids.rbegin(), 999);
  int last_result = -1;
  for (const auto& m : tok["model"]["merges"]) {
    const std::string l = m[0], r = m[1];
    ASSERT_TRUE(vocab.contains(l)) << l;
    ASSERT_TRUE(vocab.contains(r)) << r;
    ASSERT_TRUE(vocab.contains(l + r)) << l + r;
    const int result = vocab[l + r];
    EXPECT_GE(result, last_result) << "merges must be ordered by result id";
    last_result = result;
  }
  EXPECT_GT(tok["model"]["merges"].size(), 600u);
  const auto cfg = nlohmann::json::parse(ReadText(dir / "tokenizer_config.json"));
  EXPECT_EQ(cfg["bos_token"], "<s>");
  EXPECT_TRUE(cfg.contains("chat_template"));
  // The GGUF holds the same vocabulary in the same order, with SentencePiece scores.
  auto g = GgufFile::Open((dir / "model.gguf").string());
  ASSERT_TRUE(g.ok()) << g.status();
  auto tokens = (*g)->GetStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(tokens->size(), 1000u);
  for (size_t i = 0; i < tokens->size(); ++i) {
    ASSERT_EQ(vocab[std::string((*tokens)[i])].get<size_t>(), i) << (*tokens)[i];
  }
  auto scores = (*g)->GetFloatArray("tokenizer.ggml.scores");
  auto types = (*g)->GetIntArray("tokenizer.ggml.token_type");
  ASSERT_TRUE(scores.ok() && types.ok());
  EXPECT_EQ((*types)[0], 2);
  EXPECT_EQ((*types)[1], 3);
  EXPECT_EQ((*types)[3], 6);
  EXPECT_EQ((*types)[999], 1);
  EXPECT_GT((*scores)[500], (*scores)[900]);  // earlier pieces merge first
  EXPECT_EQ(*(*g)->GetString("tokenizer.ggml.model"), "llama");
}

TEST(MakeModelTest, PresetsAreTheAdvertisedShapes) {
  auto q = MakeModelPreset("qwen2.5-0.5b");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->hidden_size, 896);
  EXPECT_EQ(q->num_layers, 24);
  EXPECT_EQ(q->num_heads, 14);
  EXPECT_EQ(q->num_kv_heads, 2);
  EXPECT_EQ(q->intermediate_size, 4864);
  EXPECT_EQ(q->vocab_size, 32000);
  EXPECT_EQ(q->head_dim, 64);
  EXPECT_EQ(q->architecture, "qwen2");
  EXPECT_TRUE(q->Validate().ok());
  auto t = MakeModelPreset("tinyllama-1.1b");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->hidden_size, 2048);
  EXPECT_EQ(t->num_layers, 22);
  EXPECT_EQ(t->num_heads, 32);
  EXPECT_EQ(t->num_kv_heads, 4);
  EXPECT_EQ(t->intermediate_size, 5632);
  EXPECT_EQ(t->vocab_size, 32000);
  EXPECT_TRUE(t->Validate().ok());
  EXPECT_EQ(MakeModelPresetDType("tinyllama-1.1b"), DType::kBF16);
  EXPECT_FALSE(MakeModelPreset("gpt5").ok());
}

TEST(MakeModelTest, CommandLineErrors) {
  testing::TempDir dir;
  const std::string out = dir.path().string();
  EXPECT_EQ(RunMakeModel({}), 2);                                           // no --out
  EXPECT_EQ(RunMakeModel({"--out", out, "--bogus"}), 2);
  EXPECT_EQ(RunMakeModel({"--out", out, "--dtype", "q4"}), 2);
  EXPECT_EQ(RunMakeModel({"--out", out, "--format", "onnx"}), 2);
  EXPECT_EQ(RunMakeModel({"--out", out, "--preset", "gpt5"}), 2);
  EXPECT_EQ(RunMakeModel({"--out", out, "--hidden", "abc"}), 2);
  EXPECT_EQ(RunMakeModel({"--out", out, "--hidden", "100", "--heads", "3"}), 2);
  EXPECT_EQ(RunMakeModel({"--out", out, "--vocab", "100", "--quiet"}), 1);  // too small for byte fallback
  EXPECT_EQ(RunMakeModel({"--out", out, "--kv-heads", "3", "--quiet"}), 1);  // 4 heads % 3
  EXPECT_EQ(RunMakeModel({"--help"}), 0);
  EXPECT_FALSE(std::filesystem::exists(dir / "model.safetensors"));
  MakeModelOptions o;
  o.config = *MakeModelPreset("tiny");
  o.output_dir = out;
  o.config.vocab_size = 100;
  EXPECT_THAT(std::string(MakeModel(o).message()), HasSubstr("vocab size 100"));
}

// --gguf-type q2_k / q3_k / q4_k / q5_k / q6_k: every matrix in the K-quant (file_type 10 / 11 / 14
// / 16 / 18);
// rows that are not whole 256-blocks fall back as llama.cpp does, Q4_K to Q5_0, Q5_K to Q5_1 and
// Q6_K to Q8_0, Q2_K / Q3_K to IQ4_NL (whole 32-blocks), or to F16 (tiny: hidden 64, ffn_down of
// 176).
TEST(MakeModelTest, KQuantGgufTypes) {
  for (const auto& [name, dtype, file_type, fallback] : {std::tuple{"q2_k", DType::kQ2_K, 10u, DType::kIQ4_NL},
                                                          std::tuple{"q3_k", DType::kQ3_K, 11u, DType::kIQ4_NL},
                                                          std::tuple{"q4_k", DType::kQ4_K, 14u, DType::kQ5_0},
                                                          std::tuple{"q5_k", DType::kQ5_K, 16u, DType::kQ5_1},
                                                          std::tuple{"q6_k", DType::kQ6_K, 18u, DType::kQ8_0}}) {
    SCOPED_TRACE(name);
    testing::TempDir dir;
    ASSERT_EQ(RunMakeModel({"--out", dir.path().string(), "--format", "gguf", "--gguf-type", name, "--hidden", "256",
                            "--ffn", "512", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--vocab", "300",
                            "--quiet"}),
              0);
    auto gg = LoadModel((dir / "model.gguf").string());
    ASSERT_TRUE(gg.ok()) << gg.status();
    EXPECT_EQ(gg->gguf->GetInt("general.file_type").value_or(999), static_cast<int64_t>(file_type));
    EXPECT_EQ(gg->weights.embed.dtype, dtype);
    for (const TensorView* v : {&gg->weights.layers[1].wq, &gg->weights.layers[1].wv, &gg->weights.layers[1].w_down}) {
      EXPECT_EQ(v->dtype, dtype);
    }
    testing::TempDir tiny;
    ASSERT_EQ(RunMakeModel({"--out", tiny.path().string(), "--format", "gguf", "--gguf-type", name, "--quiet"}), 0);
    auto small = LoadModel((tiny / "model.gguf").string());
    ASSERT_TRUE(small.ok()) << small.status();
    EXPECT_EQ(small->weights.layers[0].wq.dtype, fallback);
    EXPECT_EQ(small->weights.layers[0].w_down.dtype, DType::kF16);
  }
}

// Runs the GGUF at `path` on every ISA (one prefill chunk over a fixed prompt) and checks its
// logits against the double-precision oracle on the dequantized weights: the scalar table within
// f32 rounding, the int8-activation tables within a few percent of the logit scale. `check_weights`
// (if set) sees each ISA's model weights as LlamaModel::Create left them.
void ExpectLogitsMatchOracle(const std::string& path, std::string_view label,
                             const std::function<void(KernelIsa, const ModelWeights&)>& check_weights = nullptr) {
  LoadOptions options;
  options.show_progress = false;
  auto gg = LoadModel(path, options);
  ASSERT_TRUE(gg.ok()) << gg.status();
  const testing::ReferenceLlama oracle(gg->config, gg->weights);
  const std::vector<TokenId> prompt = {1, 17, 42, 5, 300, 8, 8, 30, 2, 11};
  std::vector<std::vector<double>> want;
  testing::ReferenceLlama::Sequence seq = oracle.NewSequence();
  double scale = 1.0;
  for (TokenId t : prompt) {
    want.push_back(oracle.Step(seq, t));
    for (double v : want.back()) scale = std::max(scale, std::fabs(v));
  }
  ThreadPool pool(2);
  const int64_t vocab = gg->config.vocab_size;
  for (KernelIsa isa : Kernels::Available()) {
    auto again = LoadModel(path, options);
    ASSERT_TRUE(again.ok()) << again.status();
    auto model = LlamaModel::Create(again->config, std::move(again->weights), Kernels::ForIsa(isa));
    ASSERT_TRUE(model.ok()) << model.status();
    if (check_weights) check_weights(isa, (*model)->weights());
    // One prefill chunk over the prompt, block size 4.
    const int64_t blocks = static_cast<int64_t>(prompt.size() + 3) / 4 + 1;
    KvStorage kv((*model)->KvSpec(4, blocks));
    std::vector<BlockId> table;
    for (BlockId b = 0; b < static_cast<BlockId>(blocks); ++b) table.push_back(b);
    std::vector<int32_t> positions, seq_idx(prompt.size(), 0), logits_idx;
    std::vector<int64_t> slots;
    for (int32_t p = 0; p < static_cast<int32_t>(prompt.size()); ++p) {
      positions.push_back(p);
      logits_idx.push_back(p);
      slots.push_back(p);
    }
    const BatchSequence bs{table, static_cast<int32_t>(prompt.size())};
    const ForwardBatch batch{prompt, positions, seq_idx, slots, {&bs, 1}, logits_idx};
    std::vector<float> logits(prompt.size() * vocab);
    ASSERT_TRUE((*model)->Forward(batch, kv, pool, logits).ok());
    double diff = 0.0;
    for (size_t i = 0; i < prompt.size(); ++i) {
      for (int64_t j = 0; j < vocab; ++j) diff = std::max(diff, std::fabs(logits[i * vocab + j] - want[i][j]));
    }
    std::printf("%s %-10s: max |logit - oracle| %.3g (logit scale %.3g)\n", std::string(label).c_str(),
                std::string(KernelIsaName(isa)).c_str(), diff, scale);
    // Scalar: the dequantized weights, f32 activations. Int8 activations (per 32-block) through
    // a few layers of 7 matmuls and the head: a few percent of the logit scale at most.
    EXPECT_LE(diff, (isa == KernelIsa::kScalar ? 2e-5 : 5e-2) * scale) << KernelIsaName(isa);
  }
}

// Runs make-model --format gguf --gguf-type `type` with the extra flags `shape` into `dir`, then
// loads the GGUF (no progress bar).
StatusOr<LoadedModel> MakeAndLoadGguf(const testing::TempDir& dir, const std::string& type,
                                      const std::vector<std::string>& shape) {
  std::vector<std::string> args = {"--out", dir.path().string(), "--format", "gguf", "--gguf-type", type, "--quiet"};
  args.insert(args.end(), shape.begin(), shape.end());
  if (const int rc = RunMakeModel(args); rc != 0) return Internal(StrCat("make-model exited ", rc));
  LoadOptions options;
  options.show_progress = false;
  return LoadModel((dir / "model.gguf").string(), options);
}

// --gguf-type q4_k_m / q5_k_m: llama.cpp's Q4_K_M / Q5_K_M mixes (Q6_K output and, per
// use_more_bits, some layers' attn_v / ffn_down; Q4_K / Q5_K elsewhere; file_type 15 / 17). The
// model loads, and its logits on every ISA match the double-precision oracle run on the
// dequantized weights.
TEST(MakeModelTest, GgufKMMixesLoadAndMatchOracle) {
  for (const auto& [type, base, base_x16, file_type] : {std::tuple{"q4_k_m", DType::kQ4_K, DType::kQ4_Kx16, 15},
                                                        std::tuple{"q5_k_m", DType::kQ5_K, DType::kQ5_Kx16, 17}}) {
    SCOPED_TRACE(type);
    testing::TempDir dir;
    auto gg = MakeAndLoadGguf(dir, type, {"--hidden", "256", "--ffn", "512", "--layers", "8", "--heads", "4",
                                          "--kv-heads", "2", "--vocab", "384", "--no-tie"});
    ASSERT_TRUE(gg.ok()) << gg.status();
    EXPECT_EQ(gg->gguf->GetInt("general.file_type").value_or(999), file_type);
    EXPECT_EQ(gg->weights.embed.dtype, base);
    EXPECT_EQ(gg->weights.lm_head.dtype, DType::kQ6_K);
    for (int64_t l = 0; l < 8; ++l) {
      const bool more = l == 0 || l == 3 || l == 6 || l == 7;  // use_more_bits(l, 8)
      const LayerWeights& w = gg->weights.layers[l];
      EXPECT_EQ(w.wv.dtype, more ? DType::kQ6_K : base) << l;
      EXPECT_EQ(w.w_down.dtype, more ? DType::kQ6_K : base) << l;
      for (const TensorView* v : {&w.wq, &w.wk, &w.wo, &w.w_gate, &w.w_up}) EXPECT_EQ(v->dtype, base) << l;
      EXPECT_EQ(w.attn_norm.dtype, DType::kF32);
    }
    // VNNI tables run the K-quant matrices repacked (all row counts here are multiples of 16).
    ExpectLogitsMatchOracle((dir / "model.gguf").string(), type, [base, base_x16](KernelIsa isa, const ModelWeights& w) {
      const bool x16 = Kernels::ForIsa(isa)->SupportsWeights(base_x16);
      EXPECT_EQ(x16, Kernels::ForIsa(isa)->SupportsWeights(DType::kQ6_Kx16));
      const DType bk = x16 ? base_x16 : base, q6k = x16 ? DType::kQ6_Kx16 : DType::kQ6_K;
      EXPECT_EQ(w.layers[1].wq.dtype, bk) << KernelIsaName(isa);
      EXPECT_EQ(w.layers[1].w_down.dtype, bk) << KernelIsaName(isa);
      EXPECT_EQ(w.layers[0].w_down.dtype, q6k) << KernelIsaName(isa);
      EXPECT_EQ(w.lm_head.dtype, q6k) << KernelIsaName(isa);
      EXPECT_EQ(w.embed.dtype, base);
    });
  }
}

// The Q4_K_M / Q5_K_M mixes of a model whose hidden size (160) is not whole 256-blocks, like
// Qwen2.5-0.5B (896): matrices with rows of 160 fall back to Q5_0 resp. Q5_1 (Q4_K / Q5_K) and
// Q8_0 (Q6_K), as in llama.cpp's files; ffn_down (rows of 512) stays a K-quant. The model loads
// and matches the oracle.
TEST(MakeModelTest, GgufKMFallbacksMatchOracle) {
  for (const auto& [type, base, fallback] : {std::tuple{"q4_k_m", DType::kQ4_K, DType::kQ5_0},
                                             std::tuple{"q5_k_m", DType::kQ5_K, DType::kQ5_1}}) {
    SCOPED_TRACE(type);
    testing::TempDir dir;
    auto gg = MakeAndLoadGguf(dir, type, {"--hidden", "160", "--ffn", "512", "--layers", "4", "--heads", "5",
                                          "--kv-heads", "1", "--vocab", "384", "--no-tie"});
    ASSERT_TRUE(gg.ok()) << gg.status();
    EXPECT_EQ(gg->weights.embed.dtype, fallback);
    EXPECT_EQ(gg->weights.lm_head.dtype, DType::kQ8_0);
    for (int64_t l = 0; l < 4; ++l) {
      const bool more = l == 2 || l == 3;  // use_more_bits(l, 4)
      const LayerWeights& w = gg->weights.layers[l];
      EXPECT_EQ(w.wv.dtype, more ? DType::kQ8_0 : fallback) << l;
      EXPECT_EQ(w.w_down.dtype, more ? DType::kQ6_K : base) << l;
      for (const TensorView* v : {&w.wq, &w.wk, &w.wo, &w.w_gate, &w.w_up}) EXPECT_EQ(v->dtype, fallback) << l;
    }
    ExpectLogitsMatchOracle((dir / "model.gguf").string(), StrCat(type, "/fallback"));
  }
}

// --gguf-type q4_1 / q5_1 (value d * q + m) and iq4_nl (table levels) through the whole model on
// every ISA.
TEST(MakeModelTest, GgufQ4_1Q5_1AndIQ4_NLMatchOracle) {
  for (const char* type : {"q4_1", "q5_1", "iq4_nl"}) {
    testing::TempDir dir;
    ASSERT_EQ(RunMakeModel({"--out", dir.path().string(), "--format", "gguf", "--gguf-type", type, "--hidden", "96",
                            "--ffn", "160", "--layers", "3", "--heads", "3", "--kv-heads", "1", "--vocab", "384",
                            "--quiet"}),
              0);
    ExpectLogitsMatchOracle((dir / "model.gguf").string(), type);
  }
}

// --gguf-type q2_k / q3_k (2-bit values with 4-bit scales and mins per 16; 3-bit values with signed
// 6-bit scales per 16) through the whole model on every ISA.
TEST(MakeModelTest, GgufQ2_KAndQ3_KMatchOracle) {
  for (const auto& [type, dtype] : {std::pair{"q2_k", DType::kQ2_K}, std::pair{"q3_k", DType::kQ3_K}}) {
    testing::TempDir dir;
    auto gg = MakeAndLoadGguf(dir, type, {"--hidden", "256", "--ffn", "512", "--layers", "2", "--heads", "4",
                                          "--kv-heads", "2", "--vocab", "384", "--no-tie"});
    ASSERT_TRUE(gg.ok()) << gg.status();
    EXPECT_EQ(gg->weights.layers[1].w_down.dtype, dtype);
    ExpectLogitsMatchOracle((dir / "model.gguf").string(), type);
  }
}

}  // namespace
}  // namespace pagellm
