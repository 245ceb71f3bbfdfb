// Broken-model suite for LoadModel: configs disagreeing with tensors, missing or mistyped tensors,
// misaligned data, and llama2.c checkpoints with absurd headers or truncated bodies. Every case
// expects an error whose message names the problem.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/format/gguf.h"
#include "src/format/gguf_writer.h"
#include "src/format/safetensors_writer.h"
#include "src/model/loader.h"
#include "src/model/loader_testutil.h"
#include "src/testing/testing.h"

namespace pagellm {
namespace {

using ::testing::HasSubstr;

#define EXPECT_LOAD_ERROR(expr, keyword)                                               \
  do {                                                                                 \
    auto _result = (expr);                                                             \
    ASSERT_FALSE(_result.ok()) << "expected an error mentioning '" << (keyword) << "'"; \
    EXPECT_THAT(std::string(_result.status().message()), HasSubstr(keyword));          \
  } while (0)

class HfBrokenTest : public ::testing::Test {
 protected:
  // Writes an HF folder of the tiny config with `edit` applied to its tensors, then loads it.
  StatusOr<LoadedModel> Load(const std::function<void(std::vector<testing::FakeTensor>&)>& edit,
                             const ModelConfig& config_for_json) {
    auto tensors = testing::HfTensors(c_, 1);
    if (edit) edit(tensors);
    const Status s = testing::WriteHfFolder(dir_.path(), testing::HfConfigJson(config_for_json), tensors);
    if (!s.ok()) return s;
    return LoadModel(dir_.path().string());
  }
  StatusOr<LoadedModel> Load(const std::function<void(std::vector<testing::FakeTensor>&)>& edit) {
    return Load(edit, c_);
  }
  StatusOr<LoadedModel> LoadWithConfig(const ModelConfig& json_config) { return Load(nullptr, json_config); }

  ModelConfig c_ = testing::TinyConfig();
  testing::TempDir dir_;
};

TEST_F(HfBrokenTest, ValidBaseline) { ASSERT_TRUE(Load(nullptr).ok()); }

TEST_F(HfBrokenTest, ConfigDisagreesWithTensors) {
  ModelConfig bad = c_;
  bad.hidden_size = 64;  // tensors were made for 32
  bad.head_dim = 16;
  EXPECT_LOAD_ERROR(LoadWithConfig(bad),
                    "tensor 'model.embed_tokens.weight' has shape [64, 32], but config.json implies [64, 64]");
  bad = c_;
  bad.intermediate_size = 50;
  EXPECT_LOAD_ERROR(LoadWithConfig(bad), "mlp.gate_proj.weight' has shape [48, 32]");
  bad = c_;
  bad.num_kv_heads = 4;
  EXPECT_LOAD_ERROR(LoadWithConfig(bad),
                    "tensor 'model.layers.0.self_attn.k_proj.weight' has shape [16, 32], but config.json implies [32, 32]");
  bad = c_;
  bad.vocab_size = 100;
  EXPECT_LOAD_ERROR(LoadWithConfig(bad), "vocab_size=100");
  bad = c_;
  bad.num_layers = 3;
  EXPECT_LOAD_ERROR(LoadWithConfig(bad), "model.layers.2.input_layernorm.weight");
  bad = c_;
  bad.architecture = "qwen2";  // expects q/k/v biases that are not there
  EXPECT_LOAD_ERROR(LoadWithConfig(bad), "self_attn.q_proj.bias");
}

TEST_F(HfBrokenTest, MissingTensorsAreAllNamed) {
  auto result = Load([](auto& t) {
    testing::Remove(t, "model.layers.0.mlp.up_proj.weight");
    testing::Remove(t, "model.norm.weight");
  });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  const std::string msg(result.status().message());
  EXPECT_THAT(msg, HasSubstr("2 required tensor(s) missing"));
  EXPECT_THAT(msg, HasSubstr("model.layers.0.mlp.up_proj.weight"));
  EXPECT_THAT(msg, HasSubstr("model.norm.weight"));
}

TEST_F(HfBrokenTest, WrongDtypesAndValues) {
  EXPECT_LOAD_ERROR(Load([](auto& t) {
                      testing::Tensor(t, "model.layers.0.self_attn.o_proj.weight").shape = {32, 16, 2};
                    }),
                    "o_proj.weight' has shape [32, 16, 2]");
  EXPECT_LOAD_ERROR(Load([](auto& t) {
                      testing::Tensor(t, "model.layers.1.post_attention_layernorm.weight").values[3] =
                          std::numeric_limits<float>::quiet_NaN();
                    }),
                    "non-finite");
  // An I64 tensor where a matrix belongs: parsed, refused at use.
  auto tensors = testing::HfTensors(c_, 1);
  testing::Remove(tensors, "model.layers.0.self_attn.v_proj.weight");
  ASSERT_TRUE(testing::WriteHfFolder(dir_.path(), testing::HfConfigJson(c_), tensors).ok());
  {
    SafetensorsWriter w;
    ASSERT_TRUE(w.AddTensor("model.layers.0.self_attn.v_proj.weight", "I64", {16, 32}).ok());
    std::vector<uint8_t> zeros(16 * 32 * 8);
    auto bytes = w.Serialize({zeros});
    ASSERT_TRUE(bytes.ok());
    std::ofstream(dir_ / "extra.safetensors", std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes->data()), static_cast<std::streamsize>(bytes->size()));
  }
  std::string index = R"({"weight_map": {"model.layers.0.self_attn.v_proj.weight": "extra.safetensors")";
  for (const auto& t : tensors) index += StrCat(", \"", t.name, "\": \"model.safetensors\"");
  ASSERT_TRUE(testing::WriteText(dir_ / "model.safetensors.index.json", index + "}}").ok());
  EXPECT_LOAD_ERROR(LoadModel(dir_.path().string()), "dtype I64");
}

TEST_F(HfBrokenTest, ConfigFileProblems) {
  ASSERT_TRUE(testing::WriteHfFolder(dir_.path(), "{ \"hidden_size\": ", testing::HfTensors(c_, 1)).ok());
  EXPECT_LOAD_ERROR(LoadModel(dir_.path().string()), "config.json: not valid JSON");
  std::filesystem::remove(dir_ / "config.json");
  EXPECT_LOAD_ERROR(LoadModel(dir_.path().string()), "config.json");
  EXPECT_LOAD_ERROR(LoadModel("/nonexistent/model/dir"), "does not exist");
}

TEST_F(HfBrokenTest, UntiedWithoutLmHeadFallsBackWithWarning) {
  ModelConfig untied = c_;
  untied.tie_word_embeddings = false;
  auto tensors = testing::HfTensors(untied, 1);
  testing::Remove(tensors, "lm_head.weight");
  ASSERT_TRUE(testing::WriteHfFolder(dir_.path(), testing::HfConfigJson(untied), tensors).ok());
  auto m = LoadModel(dir_.path().string());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE(m->config.tie_word_embeddings);
  EXPECT_EQ(m->weights.lm_head.data, m->weights.embed.data);
  EXPECT_THAT(m->warnings, ::testing::Contains(HasSubstr("lm_head.weight' is absent")));
}

TEST_F(HfBrokenTest, MisalignedDataIsCopied) {
  // A header padded to an odd length puts every F32 tensor at an odd address.
  auto tensors = testing::HfTensors(c_, 1);
  ASSERT_TRUE(testing::WriteHfFolder(dir_.path(), testing::HfConfigJson(c_), tensors).ok());
  std::ifstream in(dir_ / "model.safetensors", std::ios::binary);
  std::vector<uint8_t> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t len;
  std::memcpy(&len, b.data(), 8);
  b.insert(b.begin() + 8 + static_cast<ptrdiff_t>(len), ' ');
  ++len;
  std::memcpy(b.data(), &len, 8);
  std::ofstream(dir_ / "model.safetensors", std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  auto m = LoadModel(dir_.path().string());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m->weights.layers[0].wq.data) % 4, 0u);
  float x;
  std::memcpy(&x, m->weights.layers[1].w_down.data, 4);
  EXPECT_EQ(x, testing::Tensor(tensors, "model.layers.1.mlp.down_proj.weight").values[0]);
  EXPECT_THAT(m->warnings, ::testing::Contains(HasSubstr("not aligned")));
}

TEST_F(HfBrokenTest, MaxModelLenOption) {
  ASSERT_TRUE(Load(nullptr).ok());
  LoadOptions opts;
  opts.max_model_len = -5;
  EXPECT_LOAD_ERROR(LoadModel(dir_.path().string(), opts), "max_model_len");
  opts.max_model_len = int64_t{1} << 40;
  EXPECT_LOAD_ERROR(LoadModel(dir_.path().string(), opts), "max_model_len");
  opts.max_model_len = 64;
  auto m = LoadModel(dir_.path().string(), opts);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->config.max_position_embeddings, 64);
  EXPECT_EQ(m->file_max_position_embeddings, 256);
}

// ---- GGUF ----

TEST(GgufLoaderBrokenTest, TensorsDisagreeWithMetadata) {
  const ModelConfig c = testing::TinyConfig();
  testing::TempDir dir;
  const auto path = dir / "m.gguf";
  auto load = [&](const std::vector<testing::FakeTensor>& t,
                  const std::function<void(GgufWriter&)>& edit = nullptr) {
    EXPECT_TRUE(testing::WriteGguf(path, c, t, edit).ok());
    return LoadModel(path.string());
  };
  ASSERT_TRUE(load(testing::GgufTensors(c, 1)).ok());
  // Token list longer than the embedding.
  EXPECT_LOAD_ERROR(load(testing::GgufTensors(c, 1),
                         [](GgufWriter& w) {
                           std::vector<std::string> tokens(80, "t");
                           w.SetStringArray("tokenizer.ggml.tokens", tokens);
                         }),
                    "tensor 'token_embd.weight' has shape [64, 32], but the GGUF metadata implies [80, 32]");
  EXPECT_LOAD_ERROR(load(testing::GgufTensors(c, 1),
                         [](GgufWriter& w) { w.SetUint32("llama.feed_forward_length", 64); }),
                    "blk.0.ffn_gate.weight' has shape [48, 32]");
  auto missing = testing::GgufTensors(c, 1);
  testing::Remove(missing, "blk.1.ffn_up.weight");
  EXPECT_LOAD_ERROR(load(missing), "blk.1.ffn_up.weight");
  EXPECT_LOAD_ERROR(load(testing::GgufTensors(c, 1),
                         [](GgufWriter& w) { w.SetString("general.architecture", "falcon"); }),
                    "falcon");
  EXPECT_LOAD_ERROR(load(testing::GgufTensors(c, 1),
                         [](GgufWriter& w) { w.SetString("general.architecture", "qwen3"); }),
                    "qwen3");
}

// The bytes of a tiny F32 GGUF whose blk.0.attn_v.weight is of `ggml_type` with `shape` (zeros).
std::vector<uint8_t> GgufWithVOfType(uint32_t ggml_type, std::vector<int64_t> shape, size_t v_bytes) {
  const ModelConfig c = testing::TinyConfig();
  auto tensors = testing::GgufTensors(c, 1);
  testing::Remove(tensors, "blk.0.attn_v.weight");
  GgufWriter g;
  g.SetString("general.architecture", "llama");
  for (auto [k, v] : {std::pair{"llama.context_length", 256}, {"llama.embedding_length", 32},
                      {"llama.feed_forward_length", 48}, {"llama.block_count", 2},
                      {"llama.attention.head_count", 4}, {"llama.attention.head_count_kv", 2},
                      {"llama.vocab_size", 64}}) {
    g.SetUint32(k, static_cast<uint32_t>(v));
  }
  std::vector<std::vector<uint8_t>> data;
  for (const auto& t : tensors) {
    EXPECT_TRUE(g.AddTensor(t.name, DType::kF32, t.shape).ok());
    data.emplace_back(t.values.size() * 4, 0);
    std::memcpy(data.back().data(), t.values.data(), data.back().size());
  }
  EXPECT_TRUE(g.AddTensorGgml("blk.0.attn_v.weight", ggml_type, std::move(shape)).ok());
  data.emplace_back(v_bytes, 0);
  std::vector<std::span<const uint8_t>> spans(data.begin(), data.end());
  auto bytes = g.Serialize(spans);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : std::vector<uint8_t>{};
}

void WriteBytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

TEST(GgufLoaderBrokenTest, UnsupportedQuantTypeIsNamed) {
  testing::TempDir dir;
  // An IQ2_XXS v matrix: a valid GGUF type pagellm does not compute with.
  WriteBytes(dir / "q.gguf", GgufWithVOfType(16, {16, 256}, 16 * 66));
  EXPECT_LOAD_ERROR(LoadModel((dir / "q.gguf").string()), "'blk.0.attn_v.weight' has ggml type IQ2_XXS");
}

// K-quant tensors are read as they are: rows must be whole 256-value super-blocks and the bytes
// must be in the file; either fault is an error naming the tensor, never a crash.
TEST(GgufLoaderBrokenTest, KQuantRowsAndSizesChecked) {
  testing::TempDir dir;
  for (auto [type, block_bytes] : {std::pair<uint32_t, size_t>{10, 84}, {11, 110}, {12, 144}, {13, 176}, {14, 210}}) {
    SCOPED_TRACE(type);
    std::vector<uint8_t> bytes = GgufWithVOfType(type, {16, 256}, 16 * block_bytes);
    // The shape's ne0 (256) follows the tensor name and its dimension count: make it 160.
    const std::string name = "blk.0.attn_v.weight";
    auto at = std::search(bytes.begin(), bytes.end(), name.begin(), name.end());
    ASSERT_NE(at, bytes.end());
    const size_t ne0 = static_cast<size_t>(at - bytes.begin()) + name.size() + 4;
    uint64_t v = 0;
    std::memcpy(&v, bytes.data() + ne0, 8);
    ASSERT_EQ(v, 256u);
    std::vector<uint8_t> bad = bytes;
    v = 160;
    std::memcpy(bad.data() + ne0, &v, 8);
    WriteBytes(dir / "rows.gguf", bad);
    EXPECT_LOAD_ERROR(LoadModel((dir / "rows.gguf").string()), "row length 160 is not a multiple");
    // The last tensor's data cut short.
    bytes.resize(bytes.size() - block_bytes / 2);
    WriteBytes(dir / "short.gguf", bytes);
    EXPECT_LOAD_ERROR(LoadModel((dir / "short.gguf").string()), "past the end");
  }
}

TEST(GgufLoaderBrokenTest, CorruptFileNamesPath) {
  testing::TempDir dir;
  std::ofstream(dir / "bad.gguf") << "GGUF\x03";
  EXPECT_LOAD_ERROR(LoadModel((dir / "bad.gguf").string()), "bad.gguf");
  std::ofstream(dir / "notgguf.gguf") << "hello world, this is not a model";
  EXPECT_LOAD_ERROR(LoadModel((dir / "notgguf.gguf").string()), "magic");
}

// Random byte corruption of a valid model's GGUF header: LoadModel returns (a model or an
// error), never crashes or reads outside the file.
TEST(GgufLoaderBrokenTest, RandomHeaderCorruptionNeverCrashes) {
  const ModelConfig c = testing::TinyConfig();
  testing::TempDir dir;
  ASSERT_TRUE(testing::WriteGguf(dir / "m.gguf", c, testing::GgufTensors(c, 1)).ok());
  std::ifstream in(dir / "m.gguf", std::ios::binary);
  const std::vector<uint8_t> good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto header = GgufFile::Parse(good);
  ASSERT_TRUE(header.ok());
  const size_t header_bytes = (*header)->data_offset();
  std::mt19937 rng(7);
  int errors = 0;
  for (int iter = 0; iter < 400; ++iter) {
    std::vector<uint8_t> b = good;
    for (int k = 0; k < 1 + iter % 3; ++k) b[rng() % header_bytes] = static_cast<uint8_t>(rng());
    std::ofstream(dir / "c.gguf", std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    auto m = LoadModel((dir / "c.gguf").string());
    if (!m.ok()) {
      ++errors;
      EXPECT_FALSE(m.status().message().empty());
    }
  }
  EXPECT_GT(errors, 50);
}

// ---- llama2.c ----

class Llama2cBrokenTest : public ::testing::Test {
 protected:
  StatusOr<LoadedModel> LoadBytes(const std::vector<uint8_t>& b) {
    std::ofstream(dir_ / "m.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    return LoadModel((dir_ / "m.bin").string());
  }
  // The valid legacy file with header field `i` (0..6) replaced.
  std::vector<uint8_t> WithHeader(int i, int32_t value, bool v1 = false) {
    std::vector<uint8_t> b = testing::Llama2cBytes(testing::TinyConfig(), v1, true, 1);
    std::memcpy(b.data() + (v1 ? 8 : 0) + 4 * i, &value, 4);
    return b;
  }
  testing::TempDir dir_;
};

TEST_F(Llama2cBrokenTest, AbsurdHeaders) {
  ASSERT_TRUE(LoadBytes(WithHeader(0, 32)).ok());
  EXPECT_LOAD_ERROR(LoadBytes(WithHeader(0, 0x7fffffff)), "dim must be a positive multiple of n_heads");
  EXPECT_LOAD_ERROR(LoadBytes(WithHeader(0, 0)), "dim=0");
  EXPECT_LOAD_ERROR(LoadBytes(WithHeader(0, 1 << 30)), "hidden_size");
  EXPECT_LOAD_ERROR(LoadBytes(WithHeader(1, -48)), "intermediate_size");
  EXPECT_LOAD_ERROR(LoadBytes(WithHeader(1, 0x7fffffff)), "intermediate_size");
  EXPECT_LOAD_ERROR(LoadBytes(WithHeader(2, -1)), "num_layers");
  EXPECT_LOAD_ERROR(LoadBytes(WithHeader(2, 100000)), "num_layers");
  EXPECT_LOAD_ERROR(LoadBytes(WithHeader(3, 0)), "n_heads");
  EXPECT_LOAD_ERROR(LoadBytes(WithHeader(4, 3)), "num_kv_heads");
  EXPECT_LOAD_ERROR(LoadBytes(WithHeader(4, 0)), "num_kv_heads");
  EXPECT_LOAD_ERROR(LoadBytes(WithHeader(5, INT32_MIN)), "vocab_size");
  EXPECT_LOAD_ERROR(LoadBytes(WithHeader(5, 0x7fffffff)), "vocab_size");
  EXPECT_LOAD_ERROR(LoadBytes(WithHeader(6, 0)), "max_position_embeddings");
  EXPECT_LOAD_ERROR(LoadBytes(WithHeader(6, -7)), "max_position_embeddings");
  // Plausible sizes that disagree with the file length.
  EXPECT_LOAD_ERROR(LoadBytes(WithHeader(2, 3)), "truncated");
  EXPECT_LOAD_ERROR(LoadBytes(WithHeader(2, 1)), "trailing data");
  EXPECT_LOAD_ERROR(LoadBytes(WithHeader(5, -64)), "truncated");  // unshared: needs a classifier
  EXPECT_LOAD_ERROR(LoadBytes(WithHeader(6, 100000)), "truncated");  // legacy freq_cis tables
}

TEST_F(Llama2cBrokenTest, Version1Header) {
  ASSERT_TRUE(LoadBytes(testing::Llama2cBytes(testing::TinyConfig(), true, true, 1)).ok());
  auto b = testing::Llama2cBytes(testing::TinyConfig(), true, true, 1);
  int32_t version = 2;
  std::memcpy(b.data() + 4, &version, 4);
  EXPECT_LOAD_ERROR(LoadBytes(b), "version 2");
  version = 7;
  std::memcpy(b.data() + 4, &version, 4);
  EXPECT_LOAD_ERROR(LoadBytes(b), "unknown version 7");
  b = testing::Llama2cBytes(testing::TinyConfig(), true, true, 1);
  b[36] = 5;
  EXPECT_LOAD_ERROR(LoadBytes(b), "shared_classifier");
  EXPECT_LOAD_ERROR(LoadBytes(WithHeader(0, -32, true)), "dim");
  b = testing::Llama2cBytes(testing::TinyConfig(), true, true, 1);
  b.resize(200);
  EXPECT_LOAD_ERROR(LoadBytes(b), "truncated");
}

TEST_F(Llama2cBrokenTest, TruncatedAnywhere) {
  for (bool v1 : {false, true}) {
    const auto full = testing::Llama2cBytes(testing::TinyConfig(), v1, false, 1);
    ASSERT_TRUE(LoadBytes(full).ok());
    // Every offset through the header, then a spread of offsets through the body.
    std::vector<size_t> cuts;
    for (size_t n = 0; n < 300; ++n) cuts.push_back(n);
    for (size_t n = 300; n < full.size(); n += 997) cuts.push_back(n);
    cuts.push_back(full.size() - 1);
    for (size_t n : cuts) {
      std::vector<uint8_t> prefix(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
      auto m = LoadBytes(prefix);
      ASSERT_FALSE(m.ok()) << "v1=" << v1 << " prefix " << n << " accepted";
      EXPECT_THAT(std::string(m.status().message()), HasSubstr("truncated")) << "prefix " << n;
    }
  }
}

}  // namespace
}  // namespace pagellm
