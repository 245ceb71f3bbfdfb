// Tests of ModelConfig: config.json parsing (Llama, Mistral, Qwen2, Qwen3, rope scaling), GGUF
// metadata parsing and Validate().
#include "src/model/config.h"

#include <functional>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/format/gguf.h"
#include "src/format/gguf_writer.h"

namespace pagellm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

#define EXPECT_CONFIG_ERROR(expr, keyword)                                             \
  do {                                                                                 \
    auto _result = (expr);                                                             \
    ASSERT_FALSE(_result.ok()) << "expected an error mentioning '" << (keyword) << "'"; \
    EXPECT_THAT(std::string(_result.status().message()), HasSubstr(keyword));          \
  } while (0)

// The stories260K config.json, verbatim.
constexpr std::string_view kStoriesJson = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
  "intermediate_size": 172, "num_hidden_layers": 5, "num_attention_heads": 8,
  "num_key_value_heads": 4, "head_dim": 8, "vocab_size": 512, "max_position_embeddings": 512,
  "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "hidden_act": "silu", "bos_token_id": 1,
  "eos_token_id": 2, "tie_word_embeddings": true, "attention_bias": false, "mlp_bias": false,
  "torch_dtype": "float32"})";

// Qwen2.5-0.5B-Instruct's config.json (abridged to the fields that matter).
constexpr std::string_view kQwen25Json = R"({
  "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
  "eos_token_id": 151645, "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02,
  "intermediate_size": 4864, "max_position_embeddings": 32768, "max_window_layers": 21,
  "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24,
  "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
  "sliding_window": 32768, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
  "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})";

// Qwen3-0.6B: head_dim 128 with hidden 1024 and 16 heads (q_dim 2048 != hidden).
constexpr std::string_view kQwen3Json = R"({
  "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "bos_token_id": 151643,
  "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 1024,
  "intermediate_size": 3072, "max_position_embeddings": 40960, "model_type": "qwen3",
  "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000, "sliding_window": null,
  "tie_word_embeddings": true, "torch_dtype": "bfloat16", "use_sliding_window": false,
  "vocab_size": 151936})";

// Llama-3.1-8B-Instruct.
constexpr std::string_view kLlama31Json = R"({
  "architectures": ["LlamaForCausalLM"], "bos_token_id": 128000,
  "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu", "hidden_size": 4096,
  "intermediate_size": 14336, "max_position_embeddings": 131072, "model_type": "llama",
  "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05, "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0,
  "high_freq_factor": 4.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "vocab_size": 128256})";

// Mistral-7B-v0.1 (sliding window, no head_dim, no num_key_value_heads default needed).
constexpr std::string_view kMistralJson = R"({
  "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
  "hidden_act": "silu", "hidden_size": 4096, "intermediate_size": 14336,
  "max_position_embeddings": 32768, "model_type": "mistral", "num_attention_heads": 32,
  "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
  "rope_theta": 10000.0, "sliding_window": 4096, "tie_word_embeddings": false,
  "torch_dtype": "bfloat16", "vocab_size": 32000})";

// kStoriesJson with one key replaced (or added).
std::string Edited(std::string_view key, std::string_view value) {
  std::string s(kStoriesJson);
  const std::string needle = "\"" + std::string(key) + "\": ";
  const size_t at = s.find(needle);
  if (at == std::string::npos) return s.substr(0, s.size() - 1) + ", " + needle + std::string(value) + "}";
  const size_t start = at + needle.size();
  const size_t end = s.find_first_of(",}", start);
  return s.substr(0, start) + std::string(value) + s.substr(end);
}

TEST(ConfigHfTest, Stories260K) {
  auto c = ConfigFromHfJson(kStoriesJson);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->architecture, "llama");
  EXPECT_EQ(c->hidden_size, 64);
  EXPECT_EQ(c->intermediate_size, 172);
  EXPECT_EQ(c->num_layers, 5);
  EXPECT_EQ(c->num_heads, 8);
  EXPECT_EQ(c->num_kv_heads, 4);
  EXPECT_EQ(c->head_dim, 8);
  EXPECT_EQ(c->vocab_size, 512);
  EXPECT_EQ(c->max_position_embeddings, 512);
  EXPECT_DOUBLE_EQ(c->rms_norm_eps, 1e-5);
  EXPECT_EQ(c->rope_style, RopeStyle::kNeox);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_FALSE(c->qkv_bias);
  EXPECT_FALSE(c->qk_norm);
  EXPECT_EQ(c->bos_token_id, 1);
  EXPECT_THAT(c->eos_token_ids, ElementsAre(2));
  EXPECT_EQ(c->torch_dtype, "float32");
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kNone);
}

TEST(ConfigHfTest, Qwen25HasQkvBiasAndNoSlidingWindow) {
  auto c = ConfigFromHfJson(kQwen25Json);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->architecture, "qwen2");
  EXPECT_TRUE(c->qkv_bias);
  EXPECT_FALSE(c->qk_norm);
  EXPECT_EQ(c->head_dim, 64);
  EXPECT_EQ(c->kv_dim(), 128);
  EXPECT_EQ(c->sliding_window, 0);  // use_sliding_window: false
  EXPECT_DOUBLE_EQ(c->rope_theta, 1e6);
  EXPECT_DOUBLE_EQ(c->rms_norm_eps, 1e-6);
  EXPECT_EQ(c->bos_token_id, 151643);
  EXPECT_THAT(c->eos_token_ids, ElementsAre(151645));
}

TEST(ConfigHfTest, Qwen3HeadDimAndQkNorm) {
  auto c = ConfigFromHfJson(kQwen3Json);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->architecture, "qwen3");
  EXPECT_TRUE(c->qk_norm);
  EXPECT_FALSE(c->qkv_bias);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->q_dim(), 2048);
  EXPECT_EQ(c->kv_dim(), 1024);
  EXPECT_EQ(c->sliding_window, 0);
}

TEST(ConfigHfTest, Llama31RopeScalingAndEosList) {
  auto c = ConfigFromHfJson(kLlama31Json);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kLlama3);
  EXPECT_DOUBLE_EQ(c->rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(c->rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c->rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(c->rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_THAT(c->eos_token_ids, ElementsAre(128001, 128008, 128009));
  EXPECT_FALSE(c->tie_word_embeddings);
  EXPECT_EQ(c->head_dim, 128);  // hidden / heads
}

TEST(ConfigHfTest, MistralSlidingWindow) {
  auto c = ConfigFromHfJson(kMistralJson);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->architecture, "mistral");
  EXPECT_EQ(c->sliding_window, 4096);
  auto no_window = ConfigFromHfJson(std::string(kMistralJson).replace(
      std::string(kMistralJson).find("4096, \"tie"), 4, "null"));
  ASSERT_TRUE(no_window.ok()) << no_window.status();
  EXPECT_EQ(no_window->sliding_window, 0);
}

TEST(ConfigHfTest, DefaultsAndVariants) {
  // num_key_value_heads absent -> num_attention_heads; head_dim absent -> hidden / heads.
  std::string s = R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
      "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
      "vocab_size": 100})";
  auto c = ConfigFromHfJson(s);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->num_kv_heads, 4);
  EXPECT_EQ(c->head_dim, 16);
  EXPECT_EQ(c->max_position_embeddings, 2048);
  EXPECT_EQ(c->bos_token_id, -1);
  EXPECT_TRUE(c->eos_token_ids.empty());
  auto linear = ConfigFromHfJson(Edited("rope_scaling", R"({"type": "linear", "factor": 2.0})"));
  ASSERT_TRUE(linear.ok()) << linear.status();
  EXPECT_EQ(linear->rope_scaling.type, RopeScaling::Type::kLinear);
  EXPECT_DOUBLE_EQ(linear->rope_scaling.factor, 2.0);
  auto dflt = ConfigFromHfJson(Edited("rope_scaling", R"({"rope_type": "default"})"));
  ASSERT_TRUE(dflt.ok());
  EXPECT_EQ(dflt->rope_scaling.type, RopeScaling::Type::kNone);
  // Model-type fallback when "architectures" is absent.
  auto by_type = ConfigFromHfJson(R"({"model_type": "qwen2", "hidden_size": 64,
      "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
      "vocab_size": 100})");
  ASSERT_TRUE(by_type.ok());
  EXPECT_TRUE(by_type->qkv_bias);
}

TEST(ConfigHfTest, Errors) {
  EXPECT_CONFIG_ERROR(ConfigFromHfJson("{not json", "my/config.json"), "my/config.json");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson("[1]"), "not a JSON object");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("architectures", R"(["GPT2LMHeadModel"])")),
                      "GPT2LMHeadModel");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("hidden_size", R"("64")")), "\"hidden_size\" must be an integer");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("hidden_size", "0")), "hidden_size = 0");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("hidden_size", "-64")), "hidden_size");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("vocab_size", "1000000000000")), "vocab_size");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("vocab_size", "18446744073709551615")), "vocab_size");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("num_hidden_layers", "100000")), "num_layers");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("intermediate_size", "1e30")), "intermediate_size");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("num_key_value_heads", "3")), "multiple of num_kv_heads");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("num_key_value_heads", "16")), "num_kv_heads");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("head_dim", "7")), "head_dim = 7 is odd");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
      "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 5,
      "vocab_size": 100})"), "not a multiple of num_attention_heads");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("rms_norm_eps", "0")), "rms_norm_eps");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("rope_theta", "-1")), "rope_theta");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("max_position_embeddings", "1000000000")),
                      "max_position_embeddings");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("eos_token_id", R"("</s>")")), "eos_token_id");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("eos_token_id", "[2, -1]")), "eos_token_id");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("bos_token_id", "512")), "bos_token_id");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("tie_word_embeddings", "\"yes\"")), "tie_word_embeddings");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("attention_bias", "true")), "attention_bias");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("hidden_act", "\"gelu\"")), "hidden_act");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("rope_scaling", R"({"rope_type": "yarn", "factor": 4})")),
                      "yarn");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("rope_scaling", R"({"rope_type": "llama3", "factor": 8})")),
                      "low_freq_factor");
  EXPECT_CONFIG_ERROR(
      ConfigFromHfJson(Edited("rope_scaling", R"({"rope_type": "llama3", "factor": 8, "low_freq_factor": 4,
          "high_freq_factor": 1, "original_max_position_embeddings": 8192})")),
      "high_freq_factor");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("rope_scaling", R"({"type": "linear", "factor": 0})")),
                      "factor");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(Edited("rope_scaling", "5")), "rope_scaling");
  EXPECT_CONFIG_ERROR(ConfigFromHfJson(R"({"architectures": ["LlamaForCausalLM"]})"), "hidden_size");
}

// ---- GGUF metadata ----

// Minimal GGUF metadata for `arch`; `edit` may change it. Returns the parsed config.
StatusOr<ModelConfig> FromGguf(std::string_view arch,
                               const std::function<void(GgufWriter&)>& edit = nullptr,
                               bool with_output = true, bool with_bias = false) {
  GgufWriter w;
  const std::string a(arch);
  w.SetString("general.architecture", a);
  w.SetUint32(a + ".context_length", 4096);
  w.SetUint32(a + ".embedding_length", 64);
  w.SetUint32(a + ".feed_forward_length", 128);
  w.SetUint32(a + ".block_count", 3);
  w.SetUint32(a + ".attention.head_count", 8);
  w.SetUint32(a + ".attention.head_count_kv", 2);
  w.SetFloat32(a + ".attention.layer_norm_rms_epsilon", 1e-6f);
  w.SetFloat32(a + ".rope.freq_base", 500000.0f);
  std::vector<std::string> tokens(100, "x");
  w.SetStringArray("tokenizer.ggml.tokens", tokens);
  w.SetUint32("tokenizer.ggml.bos_token_id", 1);
  w.SetUint32("tokenizer.ggml.eos_token_id", 2);
  w.SetUint32("tokenizer.ggml.padding_token_id", 0xffffffffu);
  if (edit) edit(w);
  std::vector<std::vector<uint8_t>> data;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    EXPECT_TRUE(w.AddTensor(name, DType::kF32, shape).ok());
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    data.emplace_back(static_cast<size_t>(n) * 4, 0);
  };
  add("token_embd.weight", {100, 64});
  if (with_output) add("output.weight", {100, 64});
  if (with_bias) add("blk.0.attn_q.bias", {64});
  std::vector<std::span<const uint8_t>> spans(data.begin(), data.end());
  auto bytes = w.Serialize(spans);
  if (!bytes.ok()) return bytes.status();
  static std::vector<uint8_t> keep;
  keep = *std::move(bytes);
  ASSIGN_OR_RETURN(auto g, GgufFile::Parse(keep));
  return ConfigFromGguf(*g);
}

TEST(ConfigGgufTest, Llama) {
  auto c = FromGguf("llama");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->architecture, "llama");
  EXPECT_EQ(c->rope_style, RopeStyle::kInterleaved);
  EXPECT_EQ(c->max_position_embeddings, 4096);
  EXPECT_EQ(c->hidden_size, 64);
  EXPECT_EQ(c->intermediate_size, 128);
  EXPECT_EQ(c->num_layers, 3);
  EXPECT_EQ(c->num_heads, 8);
  EXPECT_EQ(c->num_kv_heads, 2);
  EXPECT_EQ(c->head_dim, 8);
  EXPECT_EQ(c->vocab_size, 100);  // from the token list
  EXPECT_NEAR(c->rms_norm_eps, 1e-6, 1e-12);
  EXPECT_DOUBLE_EQ(c->rope_theta, 500000.0);
  EXPECT_EQ(c->bos_token_id, 1);
  EXPECT_THAT(c->eos_token_ids, ElementsAre(2));
  EXPECT_FALSE(c->tie_word_embeddings);
  EXPECT_FALSE(c->qkv_bias);
}

TEST(ConfigGgufTest, Qwen2TiedWithBiasAndExplicitKeys) {
  auto c = FromGguf("qwen2", [](GgufWriter& w) {
    w.SetUint32("qwen2.vocab_size", 100);
    w.SetUint32("qwen2.attention.key_length", 16);
    w.SetUint32("qwen2.attention.value_length", 16);
    w.SetUint32("qwen2.rope.dimension_count", 16);
    w.SetString("qwen2.rope.scaling.type", "linear");
    w.SetFloat32("qwen2.rope.scaling.factor", 4.0f);
    w.SetUint32("tokenizer.ggml.eot_token_id", 7);
  }, /*with_output=*/false, /*with_bias=*/true);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rope_style, RopeStyle::kNeox);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_TRUE(c->qkv_bias);
  EXPECT_EQ(c->head_dim, 16);
  EXPECT_EQ(c->q_dim(), 128);
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kLinear);
  EXPECT_DOUBLE_EQ(c->rope_scaling.factor, 4.0);
  EXPECT_THAT(c->eos_token_ids, ElementsAre(2, 7));
}

TEST(ConfigGgufTest, Errors) {
  EXPECT_CONFIG_ERROR(FromGguf("gpt2"), "gpt2");
  EXPECT_CONFIG_ERROR(FromGguf("llama", [](GgufWriter& w) { w.SetString("llama.block_count", "3"); }),
                      "llama.block_count");
  EXPECT_CONFIG_ERROR(FromGguf("llama", [](GgufWriter& w) { w.SetUint32("llama.block_count", 0); }),
                      "num_layers");
  EXPECT_CONFIG_ERROR(FromGguf("llama", [](GgufWriter& w) { w.SetUint32("llama.attention.head_count_kv", 3); }),
                      "num_kv_heads");
  EXPECT_CONFIG_ERROR(FromGguf("llama", [](GgufWriter& w) { w.SetUint32("llama.rope.dimension_count", 4); }),
                      "partial rotary");
  EXPECT_CONFIG_ERROR(FromGguf("llama", [](GgufWriter& w) { w.SetString("llama.rope.scaling.type", "yarn"); }),
                      "yarn");
  EXPECT_CONFIG_ERROR(FromGguf("llama", [](GgufWriter& w) { w.SetUint32("llama.embedding_length", 1u << 30); }),
                      "hidden_size");
  EXPECT_CONFIG_ERROR(FromGguf("llama", [](GgufWriter& w) { w.SetUint32("llama.context_length", 0); }),
                      "max_position_embeddings");
}

TEST(ConfigGgufTest, MissingRequiredKeyIsNamed) {
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  w.SetUint32("llama.context_length", 128);
  auto bytes = w.Serialize({});
  ASSERT_TRUE(bytes.ok());
  auto g = GgufFile::Parse(*bytes);
  ASSERT_TRUE(g.ok());
  EXPECT_CONFIG_ERROR(ConfigFromGguf(**g), "llama.embedding_length");
}

TEST(ConfigValidateTest, Limits) {
  ModelConfig c;
  c.hidden_size = 64;
  c.intermediate_size = 128;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 16;
  c.vocab_size = 100;
  c.max_position_embeddings = 128;
  ASSERT_TRUE(c.Validate().ok());
  ModelConfig bad = c;
  bad.architecture = "";
  EXPECT_FALSE(bad.Validate().ok());
  bad = c;
  bad.head_dim = 2048;
  EXPECT_THAT(std::string(bad.Validate().message()), HasSubstr("head_dim"));
  bad = c;
  bad.sliding_window = -1;
  EXPECT_THAT(std::string(bad.Validate().message()), HasSubstr("sliding_window"));
  bad = c;
  bad.rope_scaling.type = RopeScaling::Type::kLinear;
  bad.rope_scaling.factor = std::numeric_limits<double>::infinity();
  EXPECT_THAT(std::string(bad.Validate().message()), HasSubstr("factor"));
  bad = c;
  bad.rms_norm_eps = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT(std::string(bad.Validate().message()), HasSubstr("rms_norm_eps"));
}

}  // namespace
}  // namespace pagellm
