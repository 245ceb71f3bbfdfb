// Loader test helpers: synthetic HF folders, GGUF files and llama2.c checkpoints.
#include "src/model/loader_testutil.h"

#include "src/kernels/quantize.h"

#include <cstring>
#include <fstream>
#include <random>

#include "nlohmann/json.hpp"
#include "src/base/check.h"
#include "src/base/half.h"
#include "src/format/byte_sink.h"
#include "src/format/safetensors_writer.h"
#include "src/model/loader_internal.h"

namespace pagellm::testing {
namespace {

using loader_internal::NameScheme;

std::string Layer(const std::string& pattern, int64_t l) {
  std::string s = pattern;
  s.replace(s.find("{}"), 2, std::to_string(l));
  return s;
}

std::vector<float> RandomValues(const std::string& name, uint64_t seed, int64_t n, bool norm) {
  std::mt19937_64 rng(seed ^ std::hash<std::string>{}(name));
  std::normal_distribution<float> dist(0.0f, norm ? 0.1f : 0.5f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = (norm ? 1.0f : 0.0f) + dist(rng);
  return v;
}

// The tensors of `c` named per `names`; values depend only on the HF name and the seed.
std::vector<FakeTensor> MakeTensors(const ModelConfig& c, uint64_t seed, DType dtype,
                                    const NameScheme& names, bool permute_qk) {
  const NameScheme& hf = loader_internal::HfNames();
  std::vector<FakeTensor> out;
  auto add = [&](const std::string& hf_name, const std::string& name,
                 std::vector<int64_t> shape, bool vector, int64_t permute_heads = 0) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> values = RandomValues(hf_name, seed, n, vector && hf_name.find("bias") == std::string::npos);
    if (permute_heads > 0) values = PermuteToInterleaved(values, permute_heads, c.head_dim, shape[1]);
    out.push_back({name, vector ? DType::kF32 : dtype, std::move(shape), std::move(values)});
  };
  const int64_t h = c.hidden_size, f = c.intermediate_size, q = c.q_dim(), kv = c.kv_dim();
  add(hf.embed, names.embed, {c.vocab_size, h}, false);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    auto L = [&](const std::string& p) { return Layer(p, l); };
    add(L(hf.attn_norm), L(names.attn_norm), {h}, true);
    add(L(hf.wq), L(names.wq), {q, h}, false, permute_qk ? c.num_heads : 0);
    add(L(hf.wk), L(names.wk), {kv, h}, false, permute_qk ? c.num_kv_heads : 0);
    add(L(hf.wv), L(names.wv), {kv, h}, false);
    if (c.qkv_bias) {
      add(L(hf.bq), L(names.bq), {q}, true);
      add(L(hf.bk), L(names.bk), {kv}, true);
      add(L(hf.bv), L(names.bv), {kv}, true);
    }
    if (c.qk_norm) {
      add(L(hf.q_norm), L(names.q_norm), {c.head_dim}, true);
      add(L(hf.k_norm), L(names.k_norm), {c.head_dim}, true);
    }
    add(L(hf.wo), L(names.wo), {h, q}, false);
    add(L(hf.ffn_norm), L(names.ffn_norm), {h}, true);
    add(L(hf.w_gate), L(names.w_gate), {f, h}, false);
    add(L(hf.w_up), L(names.w_up), {f, h}, false);
    add(L(hf.w_down), L(names.w_down), {h, f}, false);
  }
  add(hf.final_norm, names.final_norm, {h}, true);
  if (!c.tie_word_embeddings) add(hf.lm_head, names.lm_head, {c.vocab_size, h}, false);
  return out;
}

std::vector<uint8_t> Encode(const FakeTensor& t) {
  const size_t n = t.values.size();
  if (IsGgufBlockDType(t.dtype)) {
    // Block types: each row (last dimension, whole blocks) quantized per quantize.h.
    const int64_t k = t.shape.back();
    CHECK(k % Info(t.dtype).block_elems == 0);
    const uint64_t row_bytes = *BytesFor(t.dtype, static_cast<uint64_t>(k));
    std::vector<uint8_t> out(n / static_cast<size_t>(k) * row_bytes);
    for (size_t r = 0; r < n / static_cast<size_t>(k); ++r) {
      QuantizeRow(t.dtype, t.values.data() + r * k, k, out.data() + r * row_bytes);
    }
    return out;
  }
  std::vector<uint8_t> out(n * (t.dtype == DType::kF32 ? 4 : 2));
  for (size_t i = 0; i < n; ++i) {
    if (t.dtype == DType::kF32) {
      std::memcpy(out.data() + 4 * i, &t.values[i], 4);
    } else {
      const uint16_t h = t.dtype == DType::kF16 ? F32ToF16(t.values[i]) : F32ToBf16(t.values[i]);
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  }
  return out;
}

Status Save(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return out ? absl::OkStatus() : Internal(StrCat("cannot write ", path.string()));
}

}  // namespace

ModelConfig TinyConfig() {
  ModelConfig c;
  c.architecture = "llama";
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 8;
  c.vocab_size = 64;
  c.max_position_embeddings = 256;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.bos_token_id = 1;
  c.eos_token_ids = {2};
  return c;
}

std::vector<FakeTensor> HfTensors(const ModelConfig& c, uint64_t seed, DType dtype) {
  return MakeTensors(c, seed, dtype, loader_internal::HfNames(), false);
}

std::vector<FakeTensor> GgufTensors(const ModelConfig& c, uint64_t seed, DType dtype) {
  return MakeTensors(c, seed, dtype, loader_internal::GgufNames(), c.architecture == "llama");
}

FakeTensor& Tensor(std::vector<FakeTensor>& tensors, const std::string& name) {
  for (auto& t : tensors) {
    if (t.name == name) return t;
  }
  CHECK_MSG(false, name.c_str());
  return tensors.front();
}

void Remove(std::vector<FakeTensor>& tensors, const std::string& name) {
  std::erase_if(tensors, [&](const FakeTensor& t) { return t.name == name; });
}

std::string HfConfigJson(const ModelConfig& c) {
  static const std::pair<const char*, const char*> kClasses[] = {
      {"llama", "LlamaForCausalLM"}, {"mistral", "MistralForCausalLM"},
      {"qwen2", "Qwen2ForCausalLM"}, {"qwen3", "Qwen3ForCausalLM"}};
  std::string cls = "LlamaForCausalLM";
  for (const auto& [arch, name] : kClasses) {
    if (c.architecture == arch) cls = name;
  }
  nlohmann::ordered_json j = {
      {"architectures", {cls}},
      {"model_type", c.architecture},
      {"hidden_size", c.hidden_size},
      {"intermediate_size", c.intermediate_size},
      {"num_hidden_layers", c.num_layers},
      {"num_attention_heads", c.num_heads},
      {"num_key_value_heads", c.num_kv_heads},
      {"head_dim", c.head_dim},
      {"vocab_size", c.vocab_size},
      {"max_position_embeddings", c.max_position_embeddings},
      {"rms_norm_eps", c.rms_norm_eps},
      {"rope_theta", c.rope_theta},
      {"tie_word_embeddings", c.tie_word_embeddings},
      {"bos_token_id", c.bos_token_id},
      {"eos_token_id", c.eos_token_ids.empty() ? nlohmann::ordered_json(nullptr)
                                               : nlohmann::ordered_json(c.eos_token_ids[0])},
      {"torch_dtype", "float32"},
  };
  return j.dump(2);
}

Status WriteText(const std::filesystem::path& path, std::string_view text) {
  return Save(path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

Status WriteSafetensors(const std::filesystem::path& path, const std::vector<FakeTensor>& tensors) {
  SafetensorsWriter w;
  w.SetMetadata("format", "pt");
  std::vector<std::vector<uint8_t>> data;
  std::vector<std::span<const uint8_t>> spans;
  for (const auto& t : tensors) {
    RETURN_IF_ERROR(w.AddTensor(t.name, t.dtype, t.shape));
    data.push_back(Encode(t));
  }
  for (const auto& d : data) spans.emplace_back(d);
  ASSIGN_OR_RETURN(auto bytes, w.Serialize(spans));
  return Save(path, bytes);
}

Status WriteHfFolder(const std::filesystem::path& dir, const std::string& config_json,
                     const std::vector<FakeTensor>& tensors) {
  std::filesystem::create_directories(dir);
  RETURN_IF_ERROR(WriteText(dir / "config.json", config_json));
  return WriteSafetensors(dir / "model.safetensors", tensors);
}

Status WriteGguf(const std::filesystem::path& path, const ModelConfig& c,
                 const std::vector<FakeTensor>& tensors,
                 const std::function<void(GgufWriter&)>& edit) {
  GgufWriter w;
  const std::string a = c.architecture;
  w.SetString("general.architecture", a);
  w.SetUint32(a + ".context_length", static_cast<uint32_t>(c.max_position_embeddings));
  w.SetUint32(a + ".embedding_length", static_cast<uint32_t>(c.hidden_size));
  w.SetUint32(a + ".feed_forward_length", static_cast<uint32_t>(c.intermediate_size));
  w.SetUint32(a + ".block_count", static_cast<uint32_t>(c.num_layers));
  w.SetUint32(a + ".attention.head_count", static_cast<uint32_t>(c.num_heads));
  w.SetUint32(a + ".attention.head_count_kv", static_cast<uint32_t>(c.num_kv_heads));
  w.SetUint32(a + ".attention.key_length", static_cast<uint32_t>(c.head_dim));
  w.SetFloat32(a + ".attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps));
  w.SetFloat32(a + ".rope.freq_base", static_cast<float>(c.rope_theta));
  std::vector<std::string> tokens;
  for (int64_t i = 0; i < c.vocab_size; ++i) tokens.push_back(StrCat("tok", i));
  w.SetStringArray("tokenizer.ggml.tokens", tokens);
  if (c.bos_token_id >= 0) w.SetUint32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(c.bos_token_id));
  if (!c.eos_token_ids.empty()) {
    w.SetUint32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(c.eos_token_ids[0]));
  }
  if (edit) edit(w);
  std::vector<std::vector<uint8_t>> data;
  std::vector<std::span<const uint8_t>> spans;
  for (const auto& t : tensors) {
    RETURN_IF_ERROR(w.AddTensor(t.name, t.dtype, t.shape));
    data.push_back(Encode(t));
  }
  for (const auto& d : data) spans.emplace_back(d);
  ASSIGN_OR_RETURN(auto bytes, w.Serialize(spans));
  return Save(path, bytes);
}

std::vector<uint8_t> Llama2cBytes(const ModelConfig& c, bool version1, bool shared_classifier,
                                  uint64_t seed) {
  ModelConfig cc = c;
  cc.tie_word_embeddings = shared_classifier;
  std::vector<FakeTensor> tensors = GgufTensors(cc, seed);
  std::vector<uint8_t> out;
  auto put_i32 = [&](int32_t v) {
    const size_t n = out.size();
    out.resize(n + 4);
    std::memcpy(out.data() + n, &v, 4);
  };
  auto put = [&](const std::string& name) {
    const FakeTensor& t = Tensor(tensors, name);
    const size_t n = out.size();
    out.resize(n + 4 * t.values.size());
    std::memcpy(out.data() + n, t.values.data(), 4 * t.values.size());
  };
  auto put_layers = [&](const std::string& pattern) {
    for (int64_t l = 0; l < c.num_layers; ++l) put(Layer(pattern, l));
  };
  const NameScheme& g = loader_internal::GgufNames();
  const int32_t vocab = static_cast<int32_t>(c.vocab_size);
  if (version1) {
    put_i32(0x616b3432);
    put_i32(1);
  }
  for (int64_t v : {c.hidden_size, c.intermediate_size, c.num_layers, c.num_heads, c.num_kv_heads}) {
    put_i32(static_cast<int32_t>(v));
  }
  put_i32(version1 || shared_classifier ? vocab : -vocab);
  put_i32(static_cast<int32_t>(c.max_position_embeddings));
  if (version1) {
    out.push_back(shared_classifier ? 1 : 0);
    out.resize(256, 0);
    put_layers(g.attn_norm);
    put_layers(g.ffn_norm);
    put(g.final_norm);
    put(g.embed);
    for (const auto* p : {&g.wq, &g.wk, &g.wv, &g.wo, &g.w_gate, &g.w_down, &g.w_up}) put_layers(*p);
  } else {
    put(g.embed);
    put_layers(g.attn_norm);
    for (const auto* p : {&g.wq, &g.wk, &g.wv, &g.wo}) put_layers(*p);
    put_layers(g.ffn_norm);
    for (const auto* p : {&g.w_gate, &g.w_down, &g.w_up}) put_layers(*p);
    put(g.final_norm);
    out.resize(out.size() + 4 * static_cast<size_t>(c.max_position_embeddings * c.head_dim), 0);
  }
  if (!shared_classifier) put(g.lm_head);
  return out;
}

std::vector<float> PermuteToInterleaved(const std::vector<float>& hf_rows, int64_t n_heads,
                                        int64_t head_dim, int64_t cols) {
  std::vector<float> out(hf_rows.size());
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t dst = h * head_dim + 2 * i + j, src = h * head_dim + j * half + i;
        std::memcpy(&out[static_cast<size_t>(dst * cols)], &hf_rows[static_cast<size_t>(src * cols)],
                    static_cast<size_t>(cols) * sizeof(float));
      }
    }
  }
  return out;
}

}  // namespace pagellm::testing
