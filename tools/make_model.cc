// make-model: presets, the tensor plan, seeded weight generation and the streaming writers.
#include "tools/make_model.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>

#include "nlohmann/json.hpp"
#include "src/base/half.h"
#include "src/base/progress_bar.h"
#include "src/format/byte_sink.h"
#include "src/format/gguf_writer.h"
#include "src/kernels/quantize.h"
#include "src/format/safetensors_writer.h"
#include "tools/make_model_vocab.h"

namespace pagellm {
namespace {

constexpr float kWeightStd = 0.02f;
constexpr size_t kChunkElems = size_t{1} << 20;

// ---- presets ----

ModelConfig BaseConfig(std::string_view arch, int64_t hidden, int64_t layers, int64_t heads,
                       int64_t kv_heads, int64_t ffn, int64_t vocab, int64_t max_pos) {
  ModelConfig c;
  c.architecture = std::string(arch);
  c.hidden_size = hidden;
  c.num_layers = layers;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = hidden / heads;
  c.intermediate_size = ffn;
  c.vocab_size = vocab;
  c.max_position_embeddings = max_pos;
  c.bos_token_id = 1;  // the synthetic vocabulary's <s> and </s>
  c.eos_token_ids = {2};
  c.qkv_bias = arch == "qwen2";
  c.qk_norm = arch == "qwen3";
  return c;
}

// ---- seeded normal values (xoshiro256** + Box-Muller) ----

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& s : s_) {  // splitmix64
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      s = z ^ (z >> 31);
    }
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  return h;
}

void FillNormal(uint64_t seed, std::string_view name, float mean, float std, std::vector<float>* v) {
  Rng rng(seed ^ Fnv1a(name));
  for (size_t i = 0; i < v->size(); i += 2) {
    const double u1 = 1.0 - rng.Uniform();  // (0, 1]
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double theta = 2.0 * M_PI * rng.Uniform();
    (*v)[i] = mean + std * static_cast<float>(r * std::cos(theta));
    if (i + 1 < v->size()) (*v)[i + 1] = mean + std * static_cast<float>(r * std::sin(theta));
  }
}

// ---- the tensor plan ----

struct PlannedTensor {
  std::string hf_name;
  std::string gguf_name;
  std::vector<int64_t> shape;
  bool vector = false;        // norm or bias: F32 in GGUF
  bool norm = false;          // centred on 1
  int64_t permute_heads = 0;  // GGUF llama: rows of q/k into the interleaved RoPE layout
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

std::vector<PlannedTensor> Plan(const ModelConfig& c, bool interleaved) {
  std::vector<PlannedTensor> plan;
  const int64_t h = c.hidden_size, f = c.intermediate_size, q = c.q_dim(), kv = c.kv_dim();
  plan.push_back({"model.embed_tokens.weight", "token_embd.weight", {c.vocab_size, h}});
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string hf = StrCat("model.layers.", l, "."), gg = StrCat("blk.", l, ".");
    plan.push_back({hf + "input_layernorm.weight", gg + "attn_norm.weight", {h}, true, true});
    plan.push_back({hf + "self_attn.q_proj.weight", gg + "attn_q.weight", {q, h}, false, false,
                    interleaved ? c.num_heads : 0});
    plan.push_back({hf + "self_attn.k_proj.weight", gg + "attn_k.weight", {kv, h}, false, false,
                    interleaved ? c.num_kv_heads : 0});
    plan.push_back({hf + "self_attn.v_proj.weight", gg + "attn_v.weight", {kv, h}});
    if (c.qkv_bias) {
      plan.push_back({hf + "self_attn.q_proj.bias", gg + "attn_q.bias", {q}, true});
      plan.push_back({hf + "self_attn.k_proj.bias", gg + "attn_k.bias", {kv}, true});
      plan.push_back({hf + "self_attn.v_proj.bias", gg + "attn_v.bias", {kv}, true});
    }
    if (c.qk_norm) {
      plan.push_back({hf + "self_attn.q_norm.weight", gg + "attn_q_norm.weight", {c.head_dim}, true, true});
      plan.push_back({hf + "self_attn.k_norm.weight", gg + "attn_k_norm.weight", {c.head_dim}, true, true});
    }
    plan.push_back({hf + "self_attn.o_proj.weight", gg + "attn_output.weight", {h, q}});
    plan.push_back({hf + "post_attention_layernorm.weight", gg + "ffn_norm.weight", {h}, true, true});
    plan.push_back({hf + "mlp.gate_proj.weight", gg + "ffn_gate.weight", {f, h}});
    plan.push_back({hf + "mlp.up_proj.weight", gg + "ffn_up.weight", {f, h}});
    plan.push_back({hf + "mlp.down_proj.weight", gg + "ffn_down.weight", {h, f}});
  }
  plan.push_back({"model.norm.weight", "output_norm.weight", {h}, true, true});
  if (!c.tie_word_embeddings) plan.push_back({"lm_head.weight", "output.weight", {c.vocab_size, h}});
  return plan;
}

// Row h*hd + 2i + j of the result is row h*hd + j*hd/2 + i of `rows` (HF -> interleaved).
std::vector<float> PermuteRows(const std::vector<float>& rows, int64_t n_heads, int64_t head_dim,
                               int64_t cols) {
  std::vector<float> out(rows.size());
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        std::memcpy(&out[static_cast<size_t>((h * head_dim + 2 * i + j) * cols)],
                    &rows[static_cast<size_t>((h * head_dim + j * half + i) * cols)],
                    static_cast<size_t>(cols) * sizeof(float));
      }
    }
  }
  return out;
}

void Encode(const float* src, size_t n, DType dtype, std::vector<uint8_t>* out) {
  const size_t elem = dtype == DType::kF32 ? 4 : 2;
  out->resize(n * elem);
  if (dtype == DType::kF32) {
    std::memcpy(out->data(), src, n * 4);
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    const uint16_t h = dtype == DType::kF16 ? F32ToF16(src[i]) : F32ToBf16(src[i]);
    std::memcpy(out->data() + 2 * i, &h, 2);
  }
}

// Rounds values to what `dtype` can hold, so the F32 copies in GGUF equal the HF values.
void RoundTo(DType dtype, std::vector<float>* v) {
  if (dtype == DType::kF32) return;
  for (float& x : *v) x = dtype == DType::kF16 ? F16ToF32(F32ToF16(x)) : Bf16ToF32(F32ToBf16(x));
}

// Appends rows of `row_len` values quantized to `dtype` (Q8_0 / Q4_0), about a MiB at a time.
template <typename Writer>
Status AppendQuantized(Writer& w, const std::vector<float>& v, int64_t row_len, DType dtype,
                       std::vector<uint8_t>* buf) {
  const uint64_t row_bytes = *BytesFor(dtype, static_cast<uint64_t>(row_len));
  const int64_t rows = static_cast<int64_t>(v.size()) / row_len;
  const int64_t rows_per_chunk = std::max<int64_t>(1, static_cast<int64_t>((1u << 20) / row_bytes));
  for (int64_t r0 = 0; r0 < rows; r0 += rows_per_chunk) {
    const int64_t n = std::min(rows_per_chunk, rows - r0);
    buf->resize(static_cast<size_t>(n * row_bytes));
    for (int64_t r = 0; r < n; ++r) QuantizeRow(dtype, v.data() + (r0 + r) * row_len, row_len, buf->data() + r * row_bytes);
    RETURN_IF_ERROR(w.Append(*buf));
  }
  return absl::OkStatus();
}

bool IsBlockType(DType t) { return IsGgufBlockDType(t); }

// llama.cpp's use_more_bits (llama_tensor_get_type): the layers Q4_K_M / Q5_K_M give more bits.
bool UseMoreBits(int64_t layer, int64_t layers) {
  return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
}

// The GGUF dtype of a planned tensor: vectors F32; matrices `want` (the Q4_K_M / Q5_K_M mix: per
// tensor, see MakeModelOptions::gguf_k_m); rows that are not whole blocks: llama.cpp's fallback
// (llama_tensor_get_type: Q2_K, Q3_K -> IQ4_NL, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0) when
// they are whole 32-blocks, else F16.
DType GgufTensorDType(const PlannedTensor& t, DType want, bool k_m, const ModelConfig& c) {
  if (t.vector) return DType::kF32;
  if (k_m) {
    const std::string& name = t.gguf_name;
    int64_t layer = -1;
    if (name.starts_with("blk.")) layer = std::stoll(name.substr(4));
    const bool head = name == "output.weight" || (c.tie_word_embeddings && name == "token_embd.weight");
    const bool more_bits = (name.ends_with("attn_v.weight") || name.ends_with("ffn_down.weight")) && layer >= 0 &&
                           UseMoreBits(layer, c.num_layers);
    if (head || more_bits) want = DType::kQ6_K;
  }
  const int64_t row = t.shape.back();
  if (IsBlockType(want) && row % Info(want).block_elems != 0) {
    if (row % kQuantBlock != 0) return DType::kF16;
    switch (want) {
      case DType::kQ2_K:
      case DType::kQ3_K: return DType::kIQ4_NL;
      case DType::kQ4_K: return DType::kQ5_0;
      case DType::kQ5_K: return DType::kQ5_1;
      case DType::kQ6_K: return DType::kQ8_0;
      default: return DType::kF16;
    }
  }
  return want;
}

template <typename Writer>
Status AppendEncoded(Writer& w, const std::vector<float>& v, DType dtype, std::vector<uint8_t>* buf) {
  for (size_t at = 0; at < v.size(); at += kChunkElems) {
    const size_t n = std::min(kChunkElems, v.size() - at);
    Encode(v.data() + at, n, dtype, buf);
    RETURN_IF_ERROR(w.Append(*buf));
  }
  return absl::OkStatus();
}

std::string_view TorchDType(DType t) {
  return t == DType::kF16 ? "float16" : t == DType::kBF16 ? "bfloat16" : "float32";
}

std::string HfConfig(const ModelConfig& c, DType dtype) {
  static const std::map<std::string, std::string> kClass = {
      {"llama", "LlamaForCausalLM"}, {"mistral", "MistralForCausalLM"},
      {"qwen2", "Qwen2ForCausalLM"}, {"qwen3", "Qwen3ForCausalLM"}};
  nlohmann::ordered_json j = {
      {"architectures", {kClass.at(c.architecture)}},
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
      {"hidden_act", "silu"},
      {"bos_token_id", c.bos_token_id},
      {"eos_token_id", c.eos_token_ids.at(0)},
      {"tie_word_embeddings", c.tie_word_embeddings},
      {"torch_dtype", TorchDType(dtype)},
  };
  if (c.architecture == "llama" || c.architecture == "qwen3") j["attention_bias"] = false;
  if (c.architecture == "qwen2" || c.architecture == "qwen3") {
    j["use_sliding_window"] = false;
    j["sliding_window"] = c.max_position_embeddings;
    j["max_window_layers"] = c.num_layers;
  }
  return j.dump(2);
}

// {arch}.* metadata; "mistral" is "llama" in GGUF.
void AddGgufConfig(const ModelConfig& c, DType dtype, bool k_m, std::string_view name, GgufWriter* w) {
  const std::string a = c.architecture == "mistral" ? "llama" : c.architecture;
  auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
  w->SetString("general.architecture", a);
  w->SetString("general.name", name);
  // llama.cpp's llama_ftype: ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2, MOSTLY_Q4_1 3, MOSTLY_Q8_0 7,
  // MOSTLY_Q5_0 8, MOSTLY_Q5_1 9, MOSTLY_Q2_K 10, MOSTLY_Q3_K_S 11 (all Q3_K), MOSTLY_Q4_K_S 14 (all Q4_K),
  // MOSTLY_Q4_K_M 15, MOSTLY_Q5_K_S 16, MOSTLY_IQ4_NL 25,
  // MOSTLY_Q5_K_M 17, MOSTLY_Q6_K 18, MOSTLY_BF16 32.
  const uint32_t file_type = dtype == DType::kF32 ? 0 : dtype == DType::kF16 ? 1 : dtype == DType::kQ4_0 ? 2
                             : dtype == DType::kQ4_1 ? 3 : dtype == DType::kQ8_0 ? 7 : dtype == DType::kQ5_0 ? 8
                             : dtype == DType::kQ5_1 ? 9 : dtype == DType::kIQ4_NL ? 25 : dtype == DType::kQ2_K ? 10 : dtype == DType::kQ3_K ? 11 : dtype == DType::kQ4_K ? (k_m ? 15 : 14)
                             : dtype == DType::kQ5_K ? (k_m ? 17 : 16) : dtype == DType::kQ6_K ? 18 : 32;
  w->SetUint32("general.file_type", file_type);
  if (IsBlockType(dtype)) w->SetUint32("general.quantization_version", 2);
  w->SetUint32(a + ".context_length", u32(c.max_position_embeddings));
  w->SetUint32(a + ".embedding_length", u32(c.hidden_size));
  w->SetUint32(a + ".feed_forward_length", u32(c.intermediate_size));
  w->SetUint32(a + ".block_count", u32(c.num_layers));
  w->SetUint32(a + ".attention.head_count", u32(c.num_heads));
  w->SetUint32(a + ".attention.head_count_kv", u32(c.num_kv_heads));
  w->SetUint32(a + ".attention.key_length", u32(c.head_dim));
  w->SetUint32(a + ".attention.value_length", u32(c.head_dim));
  w->SetUint32(a + ".rope.dimension_count", u32(c.head_dim));
  w->SetFloat32(a + ".attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps));
  w->SetFloat32(a + ".rope.freq_base", static_cast<float>(c.rope_theta));
  w->SetUint32(a + ".vocab_size", u32(c.vocab_size));
}

Status WriteText(const std::string& path, std::string_view text) {
  ASSIGN_OR_RETURN(auto sink, FileSink::Create(path));
  RETURN_IF_ERROR(sink->Write(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size())));
  return sink->Commit();
}

}  // namespace

std::vector<std::string_view> MakeModelPresetNames() { return {"tiny", "qwen2.5-0.5b", "tinyllama-1.1b"}; }

StatusOr<ModelConfig> MakeModelPreset(std::string_view name) {
  if (name == "tiny") {
    ModelConfig c = BaseConfig("llama", 64, 2, 4, 2, 176, 512, 2048);
    return c;
  }
  if (name == "qwen2.5-0.5b") {
    ModelConfig c = BaseConfig("qwen2", 896, 24, 14, 2, 4864, 32000, 32768);
    c.rms_norm_eps = 1e-6;
    c.rope_theta = 1000000.0;
    c.tie_word_embeddings = true;
    return c;
  }
  if (name == "tinyllama-1.1b") {
    ModelConfig c = BaseConfig("llama", 2048, 22, 32, 4, 5632, 32000, 2048);
    c.rms_norm_eps = 1e-5;
    c.rope_theta = 10000.0;
    return c;
  }
  return InvalidArgument(StrCat("unknown preset '", name, "' (tiny, qwen2.5-0.5b, tinyllama-1.1b)"));
}

DType MakeModelPresetDType(std::string_view name) { return name == "tiny" ? DType::kF32 : DType::kBF16; }

Status MakeModel(const MakeModelOptions& o) {
  ModelConfig c = o.config;
  c.qkv_bias = c.architecture == "qwen2";
  c.qk_norm = c.architecture == "qwen3";
  c.rope_style = RopeStyle::kNeox;  // the HF files' convention
  if (c.architecture != "llama" && c.architecture != "mistral" && c.architecture != "qwen2" &&
      c.architecture != "qwen3") {
    return InvalidArgument(StrCat("architecture '", c.architecture, "' (llama, mistral, qwen2, qwen3)"));
  }
  RETURN_IF_ERROR(c.Validate());
  if (o.dtype != DType::kF32 && o.dtype != DType::kF16 && o.dtype != DType::kBF16) {
    return InvalidArgument(StrCat("dtype ", DTypeName(o.dtype), " (f32, f16, bf16)"));
  }
  const DType gguf_dtype = o.gguf_dtype.value_or(o.dtype);
  if (gguf_dtype != DType::kF32 && gguf_dtype != DType::kF16 && gguf_dtype != DType::kBF16 && !IsBlockType(gguf_dtype)) {
    return InvalidArgument(
        StrCat("GGUF dtype ", DTypeName(gguf_dtype), " (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, q2_k, q3_k, q4_k, q5_k, q6_k)"));
  }
  if (o.gguf_k_m && gguf_dtype != DType::kQ4_K && gguf_dtype != DType::kQ5_K) {
    return InvalidArgument("the _K_M mix needs GGUF dtype Q4_K or Q5_K");
  }
  if (!o.write_hf && !o.write_gguf) return InvalidArgument("nothing to write (no HF, no GGUF)");
  if (o.output_dir.empty()) return InvalidArgument("no output folder given");
  ASSIGN_OR_RETURN(const SyntheticVocab vocab, MakeSyntheticVocab(c.vocab_size));
  std::error_code ec;
  std::filesystem::create_directories(o.output_dir, ec);
  if (ec) return Internal(StrCat("cannot create ", o.output_dir, ": ", ec.message()));
  const std::filesystem::path dir(o.output_dir);

  const bool interleaved = c.architecture == "llama" || c.architecture == "mistral";
  const std::vector<PlannedTensor> plan = Plan(c, interleaved);
  SafetensorsWriter hf;
  GgufWriter gguf;
  hf.SetMetadata("format", "pt");
  hf.SetMetadata("generator", "pagellm make-model");
  AddGgufConfig(c, gguf_dtype, o.gguf_k_m, StrCat("pagellm random ", c.architecture), &gguf);
  AddGgufTokenizer(vocab, &gguf);
  int64_t total = 0;
  for (const auto& t : plan) {
    RETURN_IF_ERROR(hf.AddTensor(t.hf_name, o.dtype, t.shape));
    RETURN_IF_ERROR(gguf.AddTensor(t.gguf_name, GgufTensorDType(t, gguf_dtype, o.gguf_k_m, c), t.shape));
    total += t.numel();
  }
  std::unique_ptr<FileSink> hf_sink, gguf_sink;
  if (o.write_hf) {
    ASSIGN_OR_RETURN(hf_sink, FileSink::Create((dir / "model.safetensors").string()));
    RETURN_IF_ERROR(hf.Begin(hf_sink.get()));
  }
  if (o.write_gguf) {
    ASSIGN_OR_RETURN(gguf_sink, FileSink::Create((dir / o.gguf_name).string()));
    RETURN_IF_ERROR(gguf.Begin(gguf_sink.get()));
  }
  std::unique_ptr<ProgressBar> bar;
  if (o.show_progress) bar = std::make_unique<ProgressBar>("make-model", total, "M params", 1e6);
  std::vector<float> values;
  std::vector<uint8_t> buf;
  for (const auto& t : plan) {
    values.assign(static_cast<size_t>(t.numel()), 0.0f);
    FillNormal(o.seed, t.hf_name, t.norm ? 1.0f : 0.0f, kWeightStd, &values);
    RoundTo(o.dtype, &values);
    if (o.write_hf) RETURN_IF_ERROR(AppendEncoded(hf, values, o.dtype, &buf));
    if (o.write_gguf) {
      const DType dt = GgufTensorDType(t, gguf_dtype, o.gguf_k_m, c);
      std::vector<float> permuted;
      if (t.permute_heads > 0) permuted = PermuteRows(values, t.permute_heads, c.head_dim, t.shape[1]);
      const std::vector<float>& rows = t.permute_heads > 0 ? permuted : values;
      if (IsBlockType(dt)) {
        RETURN_IF_ERROR(AppendQuantized(gguf, rows, t.shape.back(), dt, &buf));
      } else {
        RETURN_IF_ERROR(AppendEncoded(gguf, rows, dt, &buf));
      }
    }
    if (bar) bar->Add(static_cast<uint64_t>(t.numel()));
  }
  if (bar) bar->Finish();
  if (o.write_hf) {
    RETURN_IF_ERROR(hf.Finish());
    RETURN_IF_ERROR(hf_sink->Commit());
    RETURN_IF_ERROR(WriteText((dir / "config.json").string(), HfConfig(c, o.dtype)));
    RETURN_IF_ERROR(WriteText((dir / "tokenizer.json").string(), TokenizerJson(vocab)));
    RETURN_IF_ERROR(WriteText((dir / "tokenizer_config.json").string(),
                              TokenizerConfigJson(c.max_position_embeddings)));
  }
  if (o.write_gguf) {
    RETURN_IF_ERROR(gguf.Finish());
    RETURN_IF_ERROR(gguf_sink->Commit());
  }
  return absl::OkStatus();
}

// ---- command line ----

namespace {

constexpr std::string_view kUsage =
    "usage: pagellm make-model --out DIR [options]\n"
    "Writes a random-weight Llama-family model: an HF folder (config.json, model.safetensors,\n"
    "tokenizer.json, tokenizer_config.json) and/or DIR/model.gguf, computing the same function.\n\n"
    "  --out DIR           output folder (required)\n"
    "  --preset NAME       tiny (default) | qwen2.5-0.5b | tinyllama-1.1b\n"
    "  --format F          hf (default) | gguf | both\n"
    "  --dtype T           f32 | f16 | bf16 (default: f32 for tiny, bf16 otherwise)\n"
    "  --gguf-type T       the GGUF's matrices: f32 | f16 | bf16 | q8_0 | q4_0 | q4_1 | q5_0 | q5_1 |\n"
    "                      iq4_nl | q2_k | q3_k | q4_k | q5_k | q6_k | q4_k_m | q5_k_m (default:\n"
    "                      --dtype); block types quantize per row (rows not whole 32-blocks: f16; rows\n"
    "                      not whole 256-blocks as llama.cpp: q2_k, q3_k -> iq4_nl, q4_k -> q5_0,\n"
    "                      q5_k -> q5_1, q6_k -> q8_0); q4_k_m / q5_k_m are llama.cpp's mixes (q4_k /\n"
    "                      q5_k, q6_k for output and some layers' attn_v / ffn_down)\n"
    "  --seed N            random seed (default 0); the same seed writes the same files\n"
    "  --arch A            llama | mistral | qwen2 (q/k/v bias) | qwen3 (q/k norm)\n"
    "  --hidden N --layers N --heads N --kv-heads N --ffn N --vocab N --head-dim N --max-pos N\n"
    "                      override the preset's shape (head_dim defaults to hidden / heads)\n"
    "  --tie | --no-tie    tie the output head to the embedding\n"
    "  --gguf-name NAME    file name of the GGUF inside DIR (default model.gguf)\n"
    "  --quiet             no progress bar\n";

StatusOr<int64_t> ParseInt(std::string_view flag, std::string_view s) {
  int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v < 0) {
    return InvalidArgument(StrCat("--", flag, ": '", s, "' is not a non-negative integer"));
  }
  return v;
}

Status ParseArgs(int argc, char** argv, MakeModelOptions* o, bool* help) {
  std::map<std::string, std::string> kv;
  static const std::vector<std::string_view> kValued = {
      "out", "preset", "format", "dtype", "seed", "arch", "hidden", "layers", "heads",
      "kv-heads", "ffn", "vocab", "head-dim", "max-pos", "gguf-name", "gguf-type"};
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      *help = true;
      return absl::OkStatus();
    }
    if (a.substr(0, 2) != "--") return InvalidArgument(StrCat("unexpected argument '", a, "'"));
    a.remove_prefix(2);
    std::string name(a), value;
    if (const size_t eq = a.find('='); eq != std::string_view::npos) {
      name = std::string(a.substr(0, eq));
      value = std::string(a.substr(eq + 1));
    } else if (std::find(kValued.begin(), kValued.end(), name) != kValued.end()) {
      if (i + 1 >= argc) return InvalidArgument(StrCat("--", name, " needs a value"));
      value = argv[++i];
    }
    const bool valued = std::find(kValued.begin(), kValued.end(), name) != kValued.end();
    const bool is_switch = name == "tie" || name == "no-tie" || name == "quiet";
    if (!valued && !is_switch) return InvalidArgument(StrCat("unknown option --", name));
    kv[name] = value;
  }
  const std::string preset = kv.contains("preset") ? kv["preset"] : "tiny";
  ASSIGN_OR_RETURN(o->config, MakeModelPreset(preset));
  o->dtype = MakeModelPresetDType(preset);
  ModelConfig& c = o->config;
  if (kv.contains("arch")) c.architecture = kv["arch"];
  struct IntFlag { const char* name; int64_t* field; };
  for (auto [name, field] : {IntFlag{"hidden", &c.hidden_size}, {"layers", &c.num_layers},
                             {"heads", &c.num_heads}, {"kv-heads", &c.num_kv_heads},
                             {"ffn", &c.intermediate_size}, {"vocab", &c.vocab_size},
                             {"max-pos", &c.max_position_embeddings}}) {
    if (kv.contains(name)) {
      ASSIGN_OR_RETURN(*field, ParseInt(name, kv[name]));
    }
  }
  if (kv.contains("head-dim")) {
    ASSIGN_OR_RETURN(c.head_dim, ParseInt("head-dim", kv["head-dim"]));
  } else if (kv.contains("hidden") || kv.contains("heads")) {
    if (c.num_heads <= 0 || c.hidden_size % c.num_heads != 0) {
      return InvalidArgument(StrCat("--hidden ", c.hidden_size, " is not a multiple of --heads ",
                                    c.num_heads, "; give --head-dim"));
    }
    c.head_dim = c.hidden_size / c.num_heads;
  }
  if (kv.contains("heads") && !kv.contains("kv-heads")) c.num_kv_heads = c.num_heads;
  if (kv.contains("tie")) c.tie_word_embeddings = true;
  if (kv.contains("no-tie")) c.tie_word_embeddings = false;
  if (kv.contains("seed")) {
    ASSIGN_OR_RETURN(const int64_t seed, ParseInt("seed", kv["seed"]));
    o->seed = static_cast<uint64_t>(seed);
  }
  if (kv.contains("dtype")) {
    const std::string& d = kv["dtype"];
    if (d == "f32") o->dtype = DType::kF32;
    else if (d == "f16") o->dtype = DType::kF16;
    else if (d == "bf16") o->dtype = DType::kBF16;
    else return InvalidArgument(StrCat("unknown --dtype '", d, "' (choose f32, f16 or bf16)"));
  }
  if (kv.contains("gguf-type")) {
    const std::string& d = kv["gguf-type"];
    if (d == "f32") o->gguf_dtype = DType::kF32;
    else if (d == "f16") o->gguf_dtype = DType::kF16;
    else if (d == "bf16") o->gguf_dtype = DType::kBF16;
    else if (d == "q8_0") o->gguf_dtype = DType::kQ8_0;
    else if (d == "q4_0") o->gguf_dtype = DType::kQ4_0;
    else if (d == "q4_1") o->gguf_dtype = DType::kQ4_1;
    else if (d == "q5_0") o->gguf_dtype = DType::kQ5_0;
    else if (d == "q5_1") o->gguf_dtype = DType::kQ5_1;
    else if (d == "iq4_nl") o->gguf_dtype = DType::kIQ4_NL;
    else if (d == "q2_k") o->gguf_dtype = DType::kQ2_K;
    else if (d == "q3_k") o->gguf_dtype = DType::kQ3_K;
    else if (d == "q4_k") o->gguf_dtype = DType::kQ4_K;
    else if (d == "q5_k") o->gguf_dtype = DType::kQ5_K;
    else if (d == "q6_k") o->gguf_dtype = DType::kQ6_K;
    else if (d == "q4_k_m") o->gguf_dtype = DType::kQ4_K, o->gguf_k_m = true;
    else if (d == "q5_k_m") o->gguf_dtype = DType::kQ5_K, o->gguf_k_m = true;
    else return InvalidArgument(StrCat("unknown --gguf-type '", d,
                                       "' (choose f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, q2_k, q3_k, q4_k, q5_k, q6_k, q4_k_m or q5_k_m)"));
  }
  const std::string format = kv.contains("format") ? kv["format"] : "hf";
  if (format != "hf" && format != "gguf" && format != "both") {
    return InvalidArgument(StrCat("unknown --format '", format, "' (choose hf, gguf or both)"));
  }
  o->write_hf = format != "gguf";
  o->write_gguf = format != "hf";
  if (!kv.contains("out") || kv["out"].empty()) return InvalidArgument("--out DIR is required");
  o->output_dir = kv["out"];
  if (kv.contains("gguf-name")) o->gguf_name = kv["gguf-name"];
  o->show_progress = !kv.contains("quiet");
  return absl::OkStatus();
}

}  // namespace

int MakeModelMain(int argc, char** argv) {
  MakeModelOptions o;
  bool help = false;
  if (Status s = ParseArgs(argc, argv, &o, &help); !s.ok()) {
    std::fprintf(stderr, "make-model: %s\n\n%.*s", std::string(s.message()).c_str(),
                 static_cast<int>(kUsage.size()), kUsage.data());
    return 2;
  }
  if (help) {
    std::printf("%.*s", static_cast<int>(kUsage.size()), kUsage.data());
    return 0;
  }
  if (Status s = MakeModel(o); !s.ok()) {
    std::fprintf(stderr, "make-model: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  const ModelConfig& c = o.config;
  std::printf("wrote a random %s model (hidden %lld, %lld layers, %lld/%lld heads, ffn %lld, "
              "vocab %lld, %s) to %s%s%s\n",
              c.architecture.c_str(), static_cast<long long>(c.hidden_size),
              static_cast<long long>(c.num_layers), static_cast<long long>(c.num_heads),
              static_cast<long long>(c.num_kv_heads), static_cast<long long>(c.intermediate_size),
              static_cast<long long>(c.vocab_size), std::string(DTypeName(o.dtype)).c_str(),
              o.output_dir.c_str(), o.write_hf ? " (HF folder)" : "",
              o.write_gguf ? StrCat(" + ", o.gguf_name).c_str() : "");
  return 0;
}

}  // namespace pagellm
