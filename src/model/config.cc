// ModelConfig: parsing from config.json and GGUF metadata, and validation.
#include "src/model/config.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "nlohmann/json.hpp"
#include "src/format/gguf.h"

namespace pagellm {
namespace {

using Json = nlohmann::json;

Status CheckRange(std::string_view name, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi) {
    return InvalidArgument(StrCat("config: ", name, " = ", v, " is out of range [", lo, ", ", hi, "]"));
  }
  return absl::OkStatus();
}

bool Finite(double x) { return std::isfinite(x); }

// ---- config.json helpers ----

// An integer field; `def` when absent or null (nullopt: required).
StatusOr<int64_t> JsonInt(const Json& j, std::string_view src, const char* key,
                          std::optional<int64_t> def = std::nullopt) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (def) return *def;
    return InvalidArgument(StrCat(src, ": required key \"", key, "\" is missing"));
  }
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_number_unsigned()) {
    return InvalidArgument(StrCat(src, ": \"", key, "\" = ", it->dump(), " is too large"));
  }
  if (it->is_number_float()) {
    const double d = it->get<double>();
    if (Finite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return static_cast<int64_t>(d);
  }
  return InvalidArgument(StrCat(src, ": \"", key, "\" must be an integer, got ", it->dump()));
}

StatusOr<double> JsonFloat(const Json& j, std::string_view src, const char* key,
                           std::optional<double> def = std::nullopt) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (def) return *def;
    return InvalidArgument(StrCat(src, ": required key \"", key, "\" is missing"));
  }
  if (!it->is_number()) {
    return InvalidArgument(StrCat(src, ": \"", key, "\" must be a number, got ", it->dump()));
  }
  return it->get<double>();
}

StatusOr<bool> JsonBool(const Json& j, std::string_view src, const char* key, bool def) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_boolean()) {
    return InvalidArgument(StrCat(src, ": \"", key, "\" must be true or false, got ", it->dump()));
  }
  return it->get<bool>();
}

StatusOr<std::vector<TokenId>> JsonTokenIds(const Json& j, std::string_view src, const char* key) {
  std::vector<TokenId> ids;
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return ids;
  auto one = [&](const Json& v) -> Status {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
        v.get<int64_t>() > std::numeric_limits<TokenId>::max()) {
      return InvalidArgument(StrCat(src, ": \"", key, "\" holds ", v.dump(),
                                    ", not a token id"));
    }
    ids.push_back(static_cast<TokenId>(v.get<int64_t>()));
    return absl::OkStatus();
  };
  if (it->is_array()) {
    for (const auto& v : *it) RETURN_IF_ERROR(one(v));
  } else {
    RETURN_IF_ERROR(one(*it));
  }
  return ids;
}

Status ParseRopeScaling(const Json& j, std::string_view src, RopeScaling* out) {
  const auto it = j.find("rope_scaling");
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_object()) return InvalidArgument(StrCat(src, ": \"rope_scaling\" is not an object"));
  const Json& rs = *it;
  std::string type;
  for (const char* k : {"rope_type", "type"}) {
    if (auto t = rs.find(k); t != rs.end() && t->is_string()) {
      type = t->get<std::string>();
      break;
    }
  }
  const std::string what = StrCat(src, " rope_scaling");
  if (type.empty() || type == "default") return absl::OkStatus();
  if (type == "linear") {
    out->type = RopeScaling::Type::kLinear;
    ASSIGN_OR_RETURN(out->factor, JsonFloat(rs, what, "factor"));
    return absl::OkStatus();
  }
  if (type == "llama3") {
    out->type = RopeScaling::Type::kLlama3;
    ASSIGN_OR_RETURN(out->factor, JsonFloat(rs, what, "factor"));
    ASSIGN_OR_RETURN(out->low_freq_factor, JsonFloat(rs, what, "low_freq_factor"));
    ASSIGN_OR_RETURN(out->high_freq_factor, JsonFloat(rs, what, "high_freq_factor"));
    ASSIGN_OR_RETURN(out->original_max_position_embeddings,
                     JsonInt(rs, what, "original_max_position_embeddings"));
    return absl::OkStatus();
  }
  return Unimplemented(StrCat(src, ": rope_scaling type \"", type,
                              "\" is not supported (supported: linear, llama3)"));
}

}  // namespace

Status ModelConfig::Validate() const {
  if (architecture.empty()) return InvalidArgument("config: architecture is empty");
  RETURN_IF_ERROR(CheckRange("hidden_size", hidden_size, 1, kMaxHiddenSize));
  RETURN_IF_ERROR(CheckRange("intermediate_size", intermediate_size, 1, kMaxIntermediateSize));
  RETURN_IF_ERROR(CheckRange("num_layers", num_layers, 1, kMaxLayers));
  RETURN_IF_ERROR(CheckRange("num_heads", num_heads, 1, kMaxHeads));
  RETURN_IF_ERROR(CheckRange("num_kv_heads", num_kv_heads, 1, num_heads));
  RETURN_IF_ERROR(CheckRange("head_dim", head_dim, 2, kMaxHeadDim));
  RETURN_IF_ERROR(CheckRange("vocab_size", vocab_size, 1, kMaxVocab));
  RETURN_IF_ERROR(CheckRange("max_position_embeddings", max_position_embeddings, 1, kMaxPositions));
  if (num_heads % num_kv_heads != 0) {
    return InvalidArgument(StrCat("config: num_heads = ", num_heads,
                                  " is not a multiple of num_kv_heads = ", num_kv_heads));
  }
  if (head_dim % 2 != 0) {
    return InvalidArgument(StrCat("config: head_dim = ", head_dim, " is odd (RoPE needs pairs)"));
  }
  RETURN_IF_ERROR(CheckRange("num_heads * head_dim", q_dim(), 1, 4 * kMaxHiddenSize));
  if (!Finite(rms_norm_eps) || rms_norm_eps <= 0 || rms_norm_eps >= 1) {
    return InvalidArgument(StrCat("config: rms_norm_eps = ", rms_norm_eps, " is not in (0, 1)"));
  }
  if (!Finite(rope_theta) || rope_theta <= 0) {
    return InvalidArgument(StrCat("config: rope_theta = ", rope_theta, " is not positive"));
  }
  if (rope_scaling.type != RopeScaling::Type::kNone) {
    if (!Finite(rope_scaling.factor) || rope_scaling.factor <= 0) {
      return InvalidArgument(StrCat("config: rope_scaling factor = ", rope_scaling.factor,
                                    " is not positive"));
    }
  }
  if (rope_scaling.type == RopeScaling::Type::kLlama3) {
    const RopeScaling& r = rope_scaling;
    if (!Finite(r.low_freq_factor) || !Finite(r.high_freq_factor) || r.low_freq_factor <= 0 ||
        r.high_freq_factor <= r.low_freq_factor) {
      return InvalidArgument(StrCat("config: llama3 rope_scaling needs 0 < low_freq_factor (",
                                    r.low_freq_factor, ") < high_freq_factor (",
                                    r.high_freq_factor, ")"));
    }
    RETURN_IF_ERROR(CheckRange("rope_scaling original_max_position_embeddings",
                               r.original_max_position_embeddings, 1, kMaxPositions));
  }
  RETURN_IF_ERROR(CheckRange("sliding_window", sliding_window, 0, kMaxPositions));
  if (bos_token_id != -1) RETURN_IF_ERROR(CheckRange("bos_token_id", bos_token_id, 0, vocab_size - 1));
  for (TokenId id : eos_token_ids) RETURN_IF_ERROR(CheckRange("eos_token_id", id, 0, kMaxVocab));
  return absl::OkStatus();
}

StatusOr<ModelConfig> ConfigFromHfJson(std::string_view json_text, std::string_view src) {
  Json j;
  try {
    j = Json::parse(json_text.begin(), json_text.end());
  } catch (const Json::exception& e) {
    return InvalidArgument(StrCat(src, ": not valid JSON: ", e.what()));
  }
  if (!j.is_object()) return InvalidArgument(StrCat(src, ": not a JSON object"));

  ModelConfig c;
  std::string arch_class;
  if (auto a = j.find("architectures"); a != j.end() && a->is_array() && !a->empty() &&
                                        (*a)[0].is_string()) {
    arch_class = (*a)[0].get<std::string>();
  }
  std::string model_type;
  if (auto m = j.find("model_type"); m != j.end() && m->is_string()) model_type = m->get<std::string>();
  if (arch_class == "LlamaForCausalLM" || (arch_class.empty() && model_type == "llama")) {
    c.architecture = "llama";
  } else if (arch_class == "MistralForCausalLM" || (arch_class.empty() && model_type == "mistral")) {
    c.architecture = "mistral";
  } else if (arch_class == "Qwen2ForCausalLM" || (arch_class.empty() && model_type == "qwen2")) {
    c.architecture = "qwen2";
  } else if (arch_class == "Qwen3ForCausalLM" || (arch_class.empty() && model_type == "qwen3")) {
    c.architecture = "qwen3";
  } else {
    return Unimplemented(StrCat(src, ": architecture \"", arch_class.empty() ? model_type : arch_class,
                                "\" is not supported (Llama, Mistral, Qwen2, Qwen3 are)"));
  }

  ASSIGN_OR_RETURN(c.hidden_size, JsonInt(j, src, "hidden_size"));
  ASSIGN_OR_RETURN(c.intermediate_size, JsonInt(j, src, "intermediate_size"));
  ASSIGN_OR_RETURN(c.num_layers, JsonInt(j, src, "num_hidden_layers"));
  ASSIGN_OR_RETURN(c.num_heads, JsonInt(j, src, "num_attention_heads"));
  ASSIGN_OR_RETURN(c.num_kv_heads, JsonInt(j, src, "num_key_value_heads", c.num_heads));
  ASSIGN_OR_RETURN(c.vocab_size, JsonInt(j, src, "vocab_size"));
  ASSIGN_OR_RETURN(c.max_position_embeddings, JsonInt(j, src, "max_position_embeddings", 2048));
  if (c.num_heads <= 0) {
    return InvalidArgument(StrCat(src, ": num_attention_heads = ", c.num_heads, " is not positive"));
  }
  if (j.contains("head_dim") && !j["head_dim"].is_null()) {
    ASSIGN_OR_RETURN(c.head_dim, JsonInt(j, src, "head_dim"));
  } else {
    if (c.hidden_size % c.num_heads != 0) {
      return InvalidArgument(StrCat(src, ": hidden_size = ", c.hidden_size,
                                    " is not a multiple of num_attention_heads = ", c.num_heads,
                                    " and no head_dim is given"));
    }
    c.head_dim = c.hidden_size / c.num_heads;
  }
  ASSIGN_OR_RETURN(c.rms_norm_eps, JsonFloat(j, src, "rms_norm_eps", 1e-6));
  ASSIGN_OR_RETURN(c.rope_theta, JsonFloat(j, src, "rope_theta", 10000.0));
  RETURN_IF_ERROR(ParseRopeScaling(j, src, &c.rope_scaling));
  ASSIGN_OR_RETURN(c.tie_word_embeddings, JsonBool(j, src, "tie_word_embeddings", false));
  ASSIGN_OR_RETURN(const double partial_rotary, JsonFloat(j, src, "partial_rotary_factor", 1.0));
  if (partial_rotary != 1.0) {
    return Unimplemented(StrCat(src, ": partial_rotary_factor = ", partial_rotary, " is not supported"));
  }
  if (auto act = j.find("hidden_act"); act != j.end() && !act->is_null()) {
    if (!act->is_string() || (*act != "silu" && *act != "swish")) {
      return Unimplemented(StrCat(src, ": hidden_act ", act->dump(), " is not supported (silu is)"));
    }
  }
  ASSIGN_OR_RETURN(const bool attention_bias, JsonBool(j, src, "attention_bias", false));
  ASSIGN_OR_RETURN(const bool mlp_bias, JsonBool(j, src, "mlp_bias", false));
  if (attention_bias || mlp_bias) {
    return Unimplemented(StrCat(src, ": ", attention_bias ? "attention_bias" : "mlp_bias",
                                " = true is not supported (it adds an o_proj / MLP bias)"));
  }
  c.qkv_bias = c.architecture == "qwen2";
  c.qk_norm = c.architecture == "qwen3";
  c.rope_style = RopeStyle::kNeox;

  ASSIGN_OR_RETURN(const bool use_sliding, JsonBool(j, src, "use_sliding_window", true));
  ASSIGN_OR_RETURN(c.sliding_window, JsonInt(j, src, "sliding_window", 0));
  if (!use_sliding) c.sliding_window = 0;

  ASSIGN_OR_RETURN(auto bos, JsonTokenIds(j, src, "bos_token_id"));
  if (bos.size() > 1) return InvalidArgument(StrCat(src, ": bos_token_id must be a single id"));
  c.bos_token_id = bos.empty() ? -1 : bos[0];
  ASSIGN_OR_RETURN(c.eos_token_ids, JsonTokenIds(j, src, "eos_token_id"));
  if (auto d = j.find("torch_dtype"); d != j.end() && d->is_string()) c.torch_dtype = d->get<std::string>();

  Status s = c.Validate();
  if (!s.ok()) return Status(s.code(), StrCat(src, ": ", s.message()));
  return c;
}

StatusOr<ModelConfig> ConfigFromGguf(const GgufFile& g) {
  ModelConfig c;
  ASSIGN_OR_RETURN(std::string_view arch, g.GetString("general.architecture"));
  if (arch == "llama") {
    c.rope_style = RopeStyle::kInterleaved;
  } else if (arch == "qwen2" || arch == "qwen3") {
    c.rope_style = RopeStyle::kNeox;
  } else {
    return Unimplemented(StrCat("GGUF architecture \"", arch,
                                "\" is not supported (llama, qwen2, qwen3 are)"));
  }
  c.architecture = std::string(arch);
  const std::string p = StrCat(arch, ".");
  auto key = [&](std::string_view k) { return StrCat(p, k); };

  ASSIGN_OR_RETURN(c.max_position_embeddings, g.GetInt(key("context_length")));
  ASSIGN_OR_RETURN(c.hidden_size, g.GetInt(key("embedding_length")));
  ASSIGN_OR_RETURN(c.intermediate_size, g.GetInt(key("feed_forward_length")));
  ASSIGN_OR_RETURN(c.num_layers, g.GetInt(key("block_count")));
  ASSIGN_OR_RETURN(c.num_heads, g.GetInt(key("attention.head_count")));
  ASSIGN_OR_RETURN(c.num_kv_heads, g.GetIntOr(key("attention.head_count_kv"), c.num_heads));
  ASSIGN_OR_RETURN(c.rms_norm_eps, g.GetFloatOr(key("attention.layer_norm_rms_epsilon"), 1e-5));
  ASSIGN_OR_RETURN(c.rope_theta, g.GetFloatOr(key("rope.freq_base"), 10000.0));
  if (c.num_heads <= 0) {
    return InvalidArgument(StrCat("GGUF ", key("attention.head_count"), " = ", c.num_heads,
                                  " is not positive"));
  }
  const int64_t default_head_dim = c.hidden_size % c.num_heads == 0 ? c.hidden_size / c.num_heads : 0;
  ASSIGN_OR_RETURN(c.head_dim, g.GetIntOr(key("attention.key_length"), default_head_dim));
  ASSIGN_OR_RETURN(const int64_t value_length, g.GetIntOr(key("attention.value_length"), c.head_dim));
  if (value_length != c.head_dim) {
    return Unimplemented(StrCat("GGUF ", key("attention.value_length"), " = ", value_length,
                                " differs from key_length = ", c.head_dim));
  }
  ASSIGN_OR_RETURN(const int64_t rope_dims, g.GetIntOr(key("rope.dimension_count"), c.head_dim));
  if (rope_dims != c.head_dim) {
    return Unimplemented(StrCat("GGUF ", key("rope.dimension_count"), " = ", rope_dims,
                                " (partial rotary) is not supported; head_dim = ", c.head_dim));
  }
  // RoPE scaling: {arch}.rope.scaling.type or the older {arch}.rope.scale_linear.
  if (g.Find(key("rope.scaling.type")) != nullptr) {
    ASSIGN_OR_RETURN(std::string_view type, g.GetString(key("rope.scaling.type")));
    if (type == "linear") {
      c.rope_scaling.type = RopeScaling::Type::kLinear;
      ASSIGN_OR_RETURN(c.rope_scaling.factor, g.GetFloat(key("rope.scaling.factor")));
    } else if (type != "none") {
      return Unimplemented(StrCat("GGUF ", key("rope.scaling.type"), " \"", type,
                                  "\" is not supported (none, linear are)"));
    }
  } else if (g.Find(key("rope.scale_linear")) != nullptr) {
    c.rope_scaling.type = RopeScaling::Type::kLinear;
    ASSIGN_OR_RETURN(c.rope_scaling.factor, g.GetFloat(key("rope.scale_linear")));
  }
  ASSIGN_OR_RETURN(c.sliding_window, g.GetIntOr(key("attention.sliding_window"), 0));

  if (g.Find(key("vocab_size")) != nullptr) {
    ASSIGN_OR_RETURN(c.vocab_size, g.GetInt(key("vocab_size")));
  } else if (g.Find("tokenizer.ggml.tokens") != nullptr) {
    ASSIGN_OR_RETURN(auto tokens, g.GetStringArray("tokenizer.ggml.tokens"));
    c.vocab_size = static_cast<int64_t>(tokens.size());
  } else if (const GgufTensorInfo* emb = g.FindTensor("token_embd.weight"); emb && !emb->shape.empty()) {
    c.vocab_size = emb->shape[0];
  }
  // Special tokens; llama.cpp writes 0xFFFFFFFF (or -1) for "none".
  auto token_id = [&](std::string_view k) -> StatusOr<TokenId> {
    ASSIGN_OR_RETURN(const int64_t v, g.GetIntOr(k, -1));
    if (v < 0 || v >= c.vocab_size) return TokenId{-1};
    return static_cast<TokenId>(v);
  };
  ASSIGN_OR_RETURN(c.bos_token_id, token_id("tokenizer.ggml.bos_token_id"));
  for (std::string_view k : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"}) {
    ASSIGN_OR_RETURN(const TokenId id, token_id(k));
    if (id >= 0 && std::find(c.eos_token_ids.begin(), c.eos_token_ids.end(), id) == c.eos_token_ids.end()) {
      c.eos_token_ids.push_back(id);
    }
  }
  c.tie_word_embeddings = g.FindTensor("output.weight") == nullptr;
  c.qkv_bias = g.FindTensor("blk.0.attn_q.bias") != nullptr;
  c.qk_norm = g.FindTensor("blk.0.attn_q_norm.weight") != nullptr;
  Status s = c.Validate();
  if (!s.ok()) return Status(s.code(), StrCat("GGUF metadata: ", s.message()));
  return c;
}

}  // namespace pagellm
