// Tests of LoadModel on valid models: stories260K in all three formats (same weights, q/k rows
// related by the RoPE-layout permutation) and synthetic models of every supported shape.
#include "src/model/loader.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/base/half.h"
#include "src/format/gguf.h"
#include "src/model/loader_testutil.h"
#include "src/testing/testing.h"

namespace pagellm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<float> Floats(const TensorView& v) {
  EXPECT_EQ(v.dtype, DType::kF32);
  std::vector<float> out(static_cast<size_t>(v.numel()));
  std::memcpy(out.data(), v.data, out.size() * 4);
  return out;
}

// Values of any F32/F16/BF16 view, widened.
std::vector<float> Widen(const TensorView& v) {
  if (v.dtype == DType::kF32) return Floats(v);
  std::vector<float> out(static_cast<size_t>(v.numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    uint16_t h;
    std::memcpy(&h, static_cast<const uint8_t*>(v.data) + 2 * i, 2);
    out[i] = v.dtype == DType::kF16 ? F16ToF32(h) : Bf16ToF32(h);
  }
  return out;
}

void ExpectSameShapeAndBytes(const TensorView& a, const TensorView& b, const std::string& what) {
  ASSERT_FALSE(a.empty()) << what;
  ASSERT_FALSE(b.empty()) << what;
  EXPECT_EQ(a.ShapeString(), b.ShapeString()) << what;
  EXPECT_EQ(a.dtype, b.dtype) << what;
  ASSERT_EQ(a.nbytes(), b.nbytes()) << what;
  EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes()), 0) << what << ": contents differ";
}

// HF q/k rows relate to interleaved (GGUF llama / llama2.c) rows by a per-head permutation.
void ExpectPermuted(const TensorView& hf, const TensorView& interleaved, int64_t n_heads,
                    int64_t head_dim, const std::string& what) {
  ASSERT_EQ(hf.ShapeString(), interleaved.ShapeString()) << what;
  const std::vector<float> want =
      testing::PermuteToInterleaved(Widen(hf), n_heads, head_dim, hf.dim(1));
  EXPECT_EQ(want, Widen(interleaved)) << what;
}

void ExpectSameConfigShape(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  EXPECT_EQ(a.num_layers, b.num_layers);
  EXPECT_EQ(a.num_heads, b.num_heads);
  EXPECT_EQ(a.num_kv_heads, b.num_kv_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_NEAR(a.rms_norm_eps, b.rms_norm_eps, 1e-10);  // GGUF stores it as f32
  EXPECT_DOUBLE_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.qkv_bias, b.qkv_bias);
  EXPECT_EQ(a.qk_norm, b.qk_norm);
  EXPECT_EQ(a.bos_token_id, b.bos_token_id);
  EXPECT_EQ(a.eos_token_ids, b.eos_token_ids);
}

// ---- stories260K in three formats ----

class Stories260KTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::SharedFile("models/stories260K");
    if (!dir) GTEST_SKIP() << "shared test data not found: models/stories260K (set PAGELLM_SHARED_DIR)";
    LoadOptions opts;
    opts.max_model_len = 512;
    auto hf = LoadModel((*dir / "hf").string());
    ASSERT_TRUE(hf.ok()) << hf.status();
    auto gguf = LoadModel((*dir / "gguf/stories260K.gguf").string(), opts);
    ASSERT_TRUE(gguf.ok()) << gguf.status();
    auto l2c = LoadModel((*dir / "llama2c/stories260K.bin").string());
    ASSERT_TRUE(l2c.ok()) << l2c.status();
    hf_ = std::make_unique<LoadedModel>(*std::move(hf));
    gguf_ = std::make_unique<LoadedModel>(*std::move(gguf));
    l2c_ = std::make_unique<LoadedModel>(*std::move(l2c));
  }
  std::unique_ptr<LoadedModel> hf_, gguf_, l2c_;
};

TEST_F(Stories260KTest, ConfigsAgree) {
  EXPECT_EQ(hf_->format, ModelFormat::kHuggingFace);
  EXPECT_EQ(gguf_->format, ModelFormat::kGguf);
  EXPECT_EQ(l2c_->format, ModelFormat::kLlama2c);
  const ModelConfig& c = hf_->config;
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.num_layers, 5);
  EXPECT_EQ(c.num_heads, 8);
  EXPECT_EQ(c.num_kv_heads, 4);
  EXPECT_EQ(c.vocab_size, 512);
  ExpectSameConfigShape(c, gguf_->config);
  ExpectSameConfigShape(c, l2c_->config);
  EXPECT_EQ(c.rope_style, RopeStyle::kNeox);
  EXPECT_EQ(gguf_->config.rope_style, RopeStyle::kInterleaved);
  EXPECT_EQ(l2c_->config.rope_style, RopeStyle::kInterleaved);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_EQ(l2c_->config.max_position_embeddings, 512);
  // The GGUF says 128; the override makes it 512 and the file's value stays visible.
  EXPECT_EQ(gguf_->file_max_position_embeddings, 128);
  EXPECT_EQ(gguf_->config.max_position_embeddings, 512);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_TRUE(l2c_->config.tie_word_embeddings);
  EXPECT_FALSE(gguf_->config.tie_word_embeddings);  // the converter wrote output.weight
}

TEST_F(Stories260KTest, WeightsAgreeAcrossFormats) {
  const ModelConfig& c = hf_->config;
  const ModelWeights& h = hf_->weights;
  for (const LoadedModel* m : {gguf_.get(), l2c_.get()}) {
    const std::string fmt(ModelFormatName(m->format));
    const ModelWeights& o = m->weights;
    ExpectSameShapeAndBytes(h.embed, o.embed, fmt + " embed");
    ExpectSameShapeAndBytes(h.final_norm, o.final_norm, fmt + " final_norm");
    EXPECT_EQ(Floats(h.lm_head), Floats(o.lm_head)) << fmt << " lm_head";
    ASSERT_EQ(o.layers.size(), 5u);
    for (size_t l = 0; l < 5; ++l) {
      const LayerWeights& a = h.layers[l];
      const LayerWeights& b = o.layers[l];
      const std::string at = fmt + " layer " + std::to_string(l);
      ExpectSameShapeAndBytes(a.attn_norm, b.attn_norm, at + " attn_norm");
      ExpectSameShapeAndBytes(a.ffn_norm, b.ffn_norm, at + " ffn_norm");
      ExpectSameShapeAndBytes(a.wv, b.wv, at + " wv");
      ExpectSameShapeAndBytes(a.wo, b.wo, at + " wo");
      ExpectSameShapeAndBytes(a.w_gate, b.w_gate, at + " w_gate");
      ExpectSameShapeAndBytes(a.w_up, b.w_up, at + " w_up");
      ExpectSameShapeAndBytes(a.w_down, b.w_down, at + " w_down");
      // q/k: the HF rows are the interleaved rows permuted (this proves the RoPE-style mapping).
      ExpectPermuted(a.wq, b.wq, c.num_heads, c.head_dim, at + " wq");
      ExpectPermuted(a.wk, b.wk, c.num_kv_heads, c.head_dim, at + " wk");
      // ...and not trivially: the permutation changes them.
      EXPECT_NE(std::memcmp(a.wq.data, b.wq.data, a.wq.nbytes()), 0) << at;
    }
  }
  // GGUF and llama2.c share the interleaved layout: identical q/k bytes.
  for (size_t l = 0; l < 5; ++l) {
    ExpectSameShapeAndBytes(gguf_->weights.layers[l].wq, l2c_->weights.layers[l].wq, "wq");
    ExpectSameShapeAndBytes(gguf_->weights.layers[l].wk, l2c_->weights.layers[l].wk, "wk");
  }
  // Tied: the HF and llama2.c heads are the embedding itself.
  EXPECT_EQ(h.lm_head.data, h.embed.data);
  EXPECT_EQ(l2c_->weights.lm_head.data, l2c_->weights.embed.data);
}

TEST_F(Stories260KTest, TokenizerSources) {
  EXPECT_THAT(hf_->tokenizer_json_path, HasSubstr("hf/tokenizer.json"));
  EXPECT_THAT(hf_->tokenizer_config_json_path, HasSubstr("hf/tokenizer_config.json"));
  ASSERT_NE(gguf_->gguf, nullptr);
  EXPECT_EQ((*gguf_->gguf->GetStringArray("tokenizer.ggml.tokens")).size(), 512u);
  EXPECT_THAT(l2c_->llama2c_tokenizer_path, HasSubstr("tok512.bin"));
  EXPECT_TRUE(hf_->unused_tensors.empty());
  EXPECT_TRUE(gguf_->unused_tensors.empty());
}

// Default: the weights are copied out of the files into owned memory (one copy per tensor, a
// tied head stays the embedding); --mmap: the views point into the mapped files. Same bytes.
TEST_F(Stories260KTest, WeightsCopiedIntoMemoryUnlessMmap) {
  auto dir = testing::SharedFile("models/stories260K");
  ASSERT_TRUE(dir);
  LoadOptions mmap_opts;
  mmap_opts.use_mmap = true;
  mmap_opts.max_model_len = 512;
  struct Case { const LoadedModel* copied; std::string path; };
  for (const Case& c : {Case{hf_.get(), (*dir / "hf").string()},
                        Case{gguf_.get(), (*dir / "gguf/stories260K.gguf").string()},
                        Case{l2c_.get(), (*dir / "llama2c/stories260K.bin").string()}}) {
    SCOPED_TRACE(c.path);
    auto mapped = LoadModel(c.path, mmap_opts);
    ASSERT_TRUE(mapped.ok()) << mapped.status();
    const std::vector<const TensorView*> a = c.copied->weights.Views();
    const std::vector<const TensorView*> b = std::as_const(mapped->weights).Views();
    ASSERT_EQ(a.size(), b.size());
    uint64_t distinct_bytes = 0;
    std::vector<const void*> seen;
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(a[i]->empty(), b[i]->empty()) << i;
      if (a[i]->empty()) continue;
      EXPECT_TRUE(c.copied->weights.IsOwned(a[i]->data)) << i;
      ExpectSameShapeAndBytes(*a[i], *b[i], "view " + std::to_string(i));
      if (std::find(seen.begin(), seen.end(), a[i]->data) == seen.end()) {
        seen.push_back(a[i]->data);
        distinct_bytes += a[i]->nbytes();
      }
    }
    // With --mmap the matrices stay in the file (only F16/BF16 norm conversions, none here, own memory).
    EXPECT_FALSE(mapped->weights.IsOwned(mapped->weights.embed.data));
    EXPECT_FALSE(mapped->weights.IsOwned(mapped->weights.layers[0].wq.data));
    EXPECT_TRUE(mapped->weights.owned.empty());
    // One copy of each distinct tensor (64-byte aligned each): a tied head is not copied twice.
    uint64_t owned_bytes = 0;
    for (const auto& o : c.copied->weights.owned) owned_bytes += o.size();
    EXPECT_GE(owned_bytes, distinct_bytes);
    EXPECT_LE(owned_bytes, distinct_bytes + 64 * seen.size());
    EXPECT_EQ(c.copied->weights.lm_head.data == c.copied->weights.embed.data,
              mapped->weights.lm_head.data == mapped->weights.embed.data);
  }
}

TEST_F(Stories260KTest, WeightsOutliveOtherCopies) {
  // A LoadedModel moved elsewhere keeps its files alive.
  LoadedModel moved = std::move(*gguf_);
  gguf_.reset();
  EXPECT_NE(Floats(moved.weights.final_norm)[0], 0.0f);
}

// ---- synthetic models: every architecture and dtype ----

struct Variant {
  std::string name;
  std::string arch;
  DType dtype;
  bool tied;
};

class SyntheticTest : public ::testing::TestWithParam<Variant> {};

TEST_P(SyntheticTest, HfAndGgufLoadTheSameModel) {
  const Variant& v = GetParam();
  ModelConfig c = testing::TinyConfig();
  c.architecture = v.arch;
  c.qkv_bias = v.arch == "qwen2";
  c.qk_norm = v.arch == "qwen3";
  c.tie_word_embeddings = v.tied;
  if (v.arch == "qwen3") c.head_dim = 16;  // q_dim 64 != hidden 32, as Qwen3 does
  testing::TempDir dir;
  auto hf_tensors = testing::HfTensors(c, 7, v.dtype);
  ASSERT_TRUE(testing::WriteHfFolder(dir / "hf", testing::HfConfigJson(c), hf_tensors).ok());
  ModelConfig gc = c;
  if (v.arch == "mistral") gc.architecture = "llama";  // GGUF calls Mistral "llama"
  ASSERT_TRUE(testing::WriteGguf(dir / "m.gguf", gc, testing::GgufTensors(gc, 7, v.dtype)).ok());

  auto hf = LoadModel((dir / "hf").string());
  ASSERT_TRUE(hf.ok()) << hf.status();
  auto gg = LoadModel((dir / "m.gguf").string());
  ASSERT_TRUE(gg.ok()) << gg.status();
  ExpectSameConfigShape(hf->config, gg->config);
  EXPECT_EQ(hf->config.tie_word_embeddings, v.tied);
  EXPECT_EQ(gg->config.tie_word_embeddings, v.tied);
  const bool interleaved = gc.architecture == "llama";
  EXPECT_EQ(gg->config.rope_style, interleaved ? RopeStyle::kInterleaved : RopeStyle::kNeox);
  const ModelWeights& a = hf->weights;
  const ModelWeights& b = gg->weights;
  EXPECT_EQ(a.embed.dtype, v.dtype);
  ExpectSameShapeAndBytes(a.embed, b.embed, "embed");
  ExpectSameShapeAndBytes(a.lm_head, b.lm_head, "lm_head");
  EXPECT_EQ(v.tied, a.lm_head.data == a.embed.data);
  for (size_t l = 0; l < a.layers.size(); ++l) {
    const LayerWeights& x = a.layers[l];
    const LayerWeights& y = b.layers[l];
    for (auto [p, q, name] : {std::tuple{&x.attn_norm, &y.attn_norm, "attn_norm"},
                              {&x.ffn_norm, &y.ffn_norm, "ffn_norm"}, {&x.wv, &y.wv, "wv"},
                              {&x.wo, &y.wo, "wo"}, {&x.w_gate, &y.w_gate, "w_gate"},
                              {&x.w_up, &y.w_up, "w_up"}, {&x.w_down, &y.w_down, "w_down"}}) {
      ExpectSameShapeAndBytes(*p, *q, name);
    }
    if (interleaved) {
      ExpectPermuted(x.wq, y.wq, c.num_heads, c.head_dim, "wq");
      ExpectPermuted(x.wk, y.wk, c.num_kv_heads, c.head_dim, "wk");
    } else {
      ExpectSameShapeAndBytes(x.wq, y.wq, "wq");
      ExpectSameShapeAndBytes(x.wk, y.wk, "wk");
    }
    EXPECT_EQ(x.bq.empty(), !c.qkv_bias);
    EXPECT_EQ(x.q_norm.empty(), !c.qk_norm);
    if (c.qkv_bias) {
      ExpectSameShapeAndBytes(x.bq, y.bq, "bq");
      ExpectSameShapeAndBytes(x.bk, y.bk, "bk");
      ExpectSameShapeAndBytes(x.bv, y.bv, "bv");
      EXPECT_EQ(x.bq.ShapeString(), "[32]");
    }
    if (c.qk_norm) {
      ExpectSameShapeAndBytes(x.q_norm, y.q_norm, "q_norm");
      ExpectSameShapeAndBytes(x.k_norm, y.k_norm, "k_norm");
      EXPECT_EQ(x.q_norm.ShapeString(), "[16]");
      EXPECT_EQ(x.wq.ShapeString(), "[64, 32]");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Archs, SyntheticTest,
    ::testing::Values(Variant{"llama_f32", "llama", DType::kF32, false},
                      Variant{"llama_bf16_tied", "llama", DType::kBF16, true},
                      Variant{"mistral_f16", "mistral", DType::kF16, false},
                      Variant{"qwen2_bf16_tied", "qwen2", DType::kBF16, true},
                      Variant{"qwen3_f32_tied", "qwen3", DType::kF32, true}),
    [](const auto& info) { return info.param.name; });

TEST(LoaderTest, ConvertsHalfPrecisionNormsToF32) {
  ModelConfig c = testing::TinyConfig();
  auto tensors = testing::HfTensors(c, 3);
  testing::Tensor(tensors, "model.norm.weight").dtype = DType::kBF16;
  testing::Tensor(tensors, "model.layers.1.input_layernorm.weight").dtype = DType::kF16;
  testing::TempDir dir;
  ASSERT_TRUE(testing::WriteHfFolder(dir.path(), testing::HfConfigJson(c), tensors).ok());
  LoadOptions opts;
  opts.use_mmap = true;  // so that only conversions own memory
  auto m = LoadModel(dir.path().string(), opts);
  ASSERT_TRUE(m.ok()) << m.status();
  const auto& norm = testing::Tensor(tensors, "model.norm.weight").values;
  const std::vector<float> got = Floats(m->weights.final_norm);
  ASSERT_EQ(got.size(), norm.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], Bf16ToF32(F32ToBf16(norm[i])));
  const auto& attn = testing::Tensor(tensors, "model.layers.1.input_layernorm.weight").values;
  const std::vector<float> got1 = Floats(m->weights.layers[1].attn_norm);
  for (size_t i = 0; i < got1.size(); ++i) EXPECT_EQ(got1[i], F16ToF32(F32ToF16(attn[i])));
  EXPECT_EQ(m->weights.owned.size(), 2u);  // the two converted norms
}

TEST(LoaderTest, ShardedHfFolder) {
  ModelConfig c = testing::TinyConfig();
  auto tensors = testing::HfTensors(c, 5);
  testing::TempDir dir;
  std::vector<testing::FakeTensor> first(tensors.begin(), tensors.begin() + 10);
  std::vector<testing::FakeTensor> second(tensors.begin() + 10, tensors.end());
  ASSERT_TRUE(testing::WriteSafetensors(dir / "model-00001-of-00002.safetensors", first).ok());
  ASSERT_TRUE(testing::WriteSafetensors(dir / "model-00002-of-00002.safetensors", second).ok());
  std::string index = R"({"metadata": {}, "weight_map": {)";
  for (size_t i = 0; i < tensors.size(); ++i) {
    index += StrCat(i ? ", " : "", "\"", tensors[i].name, "\": \"model-0000", i < 10 ? 1 : 2,
                    "-of-00002.safetensors\"");
  }
  index += "}}";
  ASSERT_TRUE(testing::WriteText(dir / "model.safetensors.index.json", index).ok());
  ASSERT_TRUE(testing::WriteText(dir / "config.json", testing::HfConfigJson(c)).ok());
  auto m = LoadModel(dir.path().string());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(Floats(m->weights.layers[1].w_down),
            testing::Tensor(tensors, "model.layers.1.mlp.down_proj.weight").values);
  EXPECT_TRUE(m->tokenizer_json_path.empty());
}

TEST(LoaderTest, Llama2cLegacyAndVersion1) {
  const ModelConfig c = testing::TinyConfig();
  for (bool v1 : {false, true}) {
    for (bool shared : {false, true}) {
      SCOPED_TRACE(StrCat("version1=", v1, " shared=", shared));
      testing::TempDir dir;
      const auto bytes = testing::Llama2cBytes(c, v1, shared, 11);
      std::ofstream(dir / "model.bin", std::ios::binary)
          .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
      std::ofstream(dir / "tok64.bin") << "x";
      auto m = LoadModel((dir / "model.bin").string());
      ASSERT_TRUE(m.ok()) << m.status();
      EXPECT_EQ(m->format, ModelFormat::kLlama2c);
      EXPECT_EQ(m->config.tie_word_embeddings, shared);
      EXPECT_EQ(m->config.max_position_embeddings, 256);
      ModelConfig cc = c;
      cc.tie_word_embeddings = shared;
      auto want = testing::GgufTensors(cc, 11);
      EXPECT_EQ(Floats(m->weights.embed), testing::Tensor(want, "token_embd.weight").values);
      EXPECT_EQ(Floats(m->weights.layers[1].wk), testing::Tensor(want, "blk.1.attn_k.weight").values);
      EXPECT_EQ(Floats(m->weights.layers[0].w_up), testing::Tensor(want, "blk.0.ffn_up.weight").values);
      EXPECT_EQ(Floats(m->weights.layers[1].ffn_norm), testing::Tensor(want, "blk.1.ffn_norm.weight").values);
      EXPECT_EQ(Floats(m->weights.final_norm), testing::Tensor(want, "output_norm.weight").values);
      if (!shared) {
        EXPECT_EQ(Floats(m->weights.lm_head), testing::Tensor(want, "output.weight").values);
      }
      EXPECT_THAT(m->llama2c_tokenizer_path, HasSubstr("tok64.bin"));
    }
  }
}

TEST(LoaderTest, Llama2cTokenizerOptionAndDefault) {
  testing::TempDir dir;
  const auto bytes = testing::Llama2cBytes(testing::TinyConfig(), false, true, 1);
  std::ofstream(dir / "m.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  auto none = LoadModel((dir / "m.bin").string());
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->llama2c_tokenizer_path.empty());
  EXPECT_THAT(none->warnings, ::testing::Contains(HasSubstr("no llama2.c tokenizer")));
  std::ofstream(dir / "tokenizer.bin") << "x";
  std::ofstream(dir / "tok1.bin") << "x";
  auto dflt = LoadModel((dir / "m.bin").string());
  ASSERT_TRUE(dflt.ok());
  EXPECT_THAT(dflt->llama2c_tokenizer_path, HasSubstr("tokenizer.bin"));
  LoadOptions opts;
  opts.tokenizer_path = "/somewhere/tok.bin";
  auto opt = LoadModel((dir / "m.bin").string(), opts);
  ASSERT_TRUE(opt.ok());
  EXPECT_EQ(opt->llama2c_tokenizer_path, "/somewhere/tok.bin");
}

TEST(LoaderTest, GgufRopeFreqsAndUnusedTensors) {
  ModelConfig c = testing::TinyConfig();
  auto tensors = testing::GgufTensors(c, 2);
  tensors.push_back({"rope_freqs.weight", DType::kF32, {c.head_dim / 2}, {1, 2, 4, 8}});
  tensors.push_back({"some.extra.tensor", DType::kF32, {3}, {1, 2, 3}});
  testing::TempDir dir;
  ASSERT_TRUE(testing::WriteGguf(dir / "m.gguf", c, tensors).ok());
  auto m = LoadModel((dir / "m.gguf").string());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(Floats(m->weights.rope_freqs), ElementsAre(1, 2, 4, 8));
  EXPECT_THAT(m->unused_tensors, ElementsAre("some.extra.tensor"));
}

}  // namespace
}  // namespace pagellm
