// LoadModel: format detection, the checked assembly of ModelWeights shared by all formats,
// options and prefaulting.
#include "src/model/loader.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "src/kernels/quantize.h"
#include "src/base/half.h"
#include "src/base/progress_bar.h"
#include "src/model/loader_internal.h"

namespace pagellm {

std::string_view ModelFormatName(ModelFormat f) {
  switch (f) {
    case ModelFormat::kHuggingFace: return "huggingface";
    case ModelFormat::kGguf: return "gguf";
    case ModelFormat::kLlama2c: return "llama2.c";
  }
  return "?";
}

StatusOr<ModelFormat> DetectModelFormat(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_directory(p, ec)) return ModelFormat::kHuggingFace;
  if (!fs::exists(p, ec)) return NotFound(StrCat("model path ", path, " does not exist"));
  const std::string ext = p.extension().string();
  if (ext == ".safetensors" || ext == ".json") return ModelFormat::kHuggingFace;
  char magic[4] = {};
  std::ifstream in(p, std::ios::binary);
  in.read(magic, 4);
  if (in.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0) return ModelFormat::kGguf;
  if (ext == ".gguf") return ModelFormat::kGguf;  // the reader names what is wrong with it
  return ModelFormat::kLlama2c;
}

StatusOr<std::optional<DType>> ParseWeightDType(std::string_view text) {
  const std::string t = absl::AsciiStrToLower(ToAbsl(text));
  if (t == "auto") return std::optional<DType>();
  if (t == "f32" || t == "float32" || t == "float") return std::optional<DType>(DType::kF32);
  if (t == "f16" || t == "float16" || t == "half") return std::optional<DType>(DType::kF16);
  if (t == "bf16" || t == "bfloat16") return std::optional<DType>(DType::kBF16);
  return InvalidArgument(StrCat("dtype '", text, "' is not one of auto, f32, bf16, f16"));
}

StatusOr<std::optional<DType>> ParseQuantization(std::string_view text) {
  const std::string t = absl::AsciiStrToLower(ToAbsl(text));
  if (t.empty() || t == "none") return std::optional<DType>();
  if (t == "q8_0") return std::optional<DType>(DType::kQ8_0);
  if (t == "q4_0") return std::optional<DType>(DType::kQ4_0);
  return InvalidArgument(StrCat("quantization '", text, "' is not one of none, q8_0, q4_0"));
}

namespace {

// One matrix converted to `to` in an owned buffer, row by row through f32 (exact for every
// widening; F32 -> F16/BF16 rounds to nearest even; block types quantize per quantize.h).
StatusOr<TensorView> ConvertMatrix(const TensorView& v, DType to, std::string_view name,
                                   ModelWeights* weights) {
  // Precondition: a 2-D matrix (AssembleWeights checked the shapes).
  const int64_t rows = v.shape[0], k = v.shape[1];
  const auto row_bytes = BytesFor(to, static_cast<uint64_t>(k));
  if (!row_bytes) {
    return InvalidArgument(StrCat("cannot convert ", name, " to ", DTypeName(to), ": its rows of ",
                                  k, " values are not whole blocks of ", Info(to).block_elems));
  }
  TensorView out = v;
  out.dtype = to;
  auto* dst = static_cast<uint8_t*>(weights->Allocate(static_cast<size_t>(*row_bytes * rows), /*huge_pages=*/true));
  std::vector<float> row(static_cast<size_t>(k));
  for (int64_t r = 0; r < rows; ++r) {
    DequantizeRow(v.dtype, v.row(r), k, row.data());
    uint8_t* o = dst + static_cast<uint64_t>(r) * *row_bytes;
    switch (to) {
      case DType::kF32:
        std::memcpy(o, row.data(), static_cast<size_t>(k) * 4);
        break;
      case DType::kF16:
      case DType::kBF16:
        for (int64_t i = 0; i < k; ++i) {
          const uint16_t h = to == DType::kF16 ? F32ToF16(row[i]) : F32ToBf16(row[i]);
          std::memcpy(o + 2 * i, &h, 2);
        }
        break;
      case DType::kQ8_0:
      case DType::kQ4_0:
        QuantizeRow(to, row.data(), k, o);
        break;
      default:
        return InvalidArgument(StrCat("cannot convert weights to ", DTypeName(to)));
    }
  }
  out.data = dst;
  return out;
}

// Applies options.dtype / options.quantization to every matrix; a tied lm_head stays the same
// view as the (converted) embedding.
Status ConvertWeights(const LoadOptions& options, LoadedModel* m) {
  const std::optional<DType> target = options.quantization ? options.quantization : options.dtype;
  if (!target) return absl::OkStatus();
  ModelWeights& w = m->weights;
  int kept = 0;  // matrices whose rows are not whole blocks of the quantization
  std::string first_kept;
  auto convert = [&](TensorView* v, std::string_view name) -> Status {
    DType to = *target;
    if (Info(to).block_elems > 1 && v->shape[1] % Info(to).block_elems != 0) {
      // Like llama.cpp's quantizer: such a matrix stays unquantized (in options.dtype if given).
      if (kept++ == 0) first_kept = StrCat(name, ", rows of ", v->shape[1]);
      if (!options.dtype) return absl::OkStatus();
      to = *options.dtype;
    }
    if (v->empty() || v->dtype == to) return absl::OkStatus();
    ASSIGN_OR_RETURN(*v, ConvertMatrix(*v, to, name, &w));
    return absl::OkStatus();
  };
  const bool tied = w.lm_head.data == w.embed.data;
  RETURN_IF_ERROR(convert(&w.embed, "the embedding"));
  if (tied) {
    w.lm_head = w.embed;
  } else {
    RETURN_IF_ERROR(convert(&w.lm_head, "lm_head"));
  }
  for (size_t l = 0; l < w.layers.size(); ++l) {
    LayerWeights& lw = w.layers[l];
    const std::string p = StrCat("layer ", l, " ");
    RETURN_IF_ERROR(convert(&lw.wq, p + "wq"));
    RETURN_IF_ERROR(convert(&lw.wk, p + "wk"));
    RETURN_IF_ERROR(convert(&lw.wv, p + "wv"));
    RETURN_IF_ERROR(convert(&lw.wo, p + "wo"));
    RETURN_IF_ERROR(convert(&lw.w_gate, p + "w_gate"));
    RETURN_IF_ERROR(convert(&lw.w_up, p + "w_up"));
    RETURN_IF_ERROR(convert(&lw.w_down, p + "w_down"));
  }
  if (kept > 0) {
    m->warnings.push_back(StrCat(kept, " weight matrices were not quantized to ", DTypeName(*target),
                                 ": their rows are not whole blocks of ", Info(*target).block_elems,
                                 " values (e.g. ", first_kept, ")"));
  }
  return absl::OkStatus();
}

// Copies every tensor still inside a file mapping into one owned buffer with transparent huge
// pages and points the views there (views of one tensor, e.g. a tied lm_head, stay one copy); the
// copied file pages are then dropped from this process's mapping (they stay in the page cache
// until the kernel needs the memory). Why: decode streams all the weights every token, and here it
// ran 1.6x faster from anonymous huge-page memory than from the mapped page cache (TinyLlama BF16
// tg64 13.5 -> 21.3 tokens/s; llama.cpp's --no-mmap shows the same, 12.8 -> 19.1).
void CopyWeightsIntoMemory(ModelWeights* w) {
  constexpr uint64_t kAlign = 64;
  const std::vector<TensorView*> views = w->Views();
  std::vector<std::pair<const void*, uint64_t>> sources;  // distinct file-backed tensors
  for (TensorView* v : views) {
    if (v->empty() || w->IsOwned(v->data)) continue;
    const bool seen = std::any_of(sources.begin(), sources.end(), [&](const auto& s) { return s.first == v->data; });
    if (!seen) sources.emplace_back(v->data, v->nbytes());
  }
  if (sources.empty()) return;
  uint64_t total = 0;
  for (const auto& s : sources) total += (s.second + kAlign - 1) / kAlign * kAlign;
  auto* dst = static_cast<uint8_t*>(w->Allocate(static_cast<size_t>(total), /*huge_pages=*/true));
  uint64_t off = 0;
  for (const auto& [src, bytes] : sources) {
    std::memcpy(dst + off, src, static_cast<size_t>(bytes));
    for (TensorView* v : views) {
      if (v->data == src) v->data = dst + off;
    }
    // Whole pages inside the copied range only: the rest may hold other tensors or metadata.
    constexpr uintptr_t kPage = 4096;
    const uintptr_t lo = (reinterpret_cast<uintptr_t>(src) + kPage - 1) / kPage * kPage;
    const uintptr_t hi = (reinterpret_cast<uintptr_t>(src) + bytes) / kPage * kPage;
    if (hi > lo) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
    off += (bytes + kAlign - 1) / kAlign * kAlign;
  }
}

StatusOr<LoadedModel> LoadByFormat(const std::string& path, const LoadOptions& options) {
  ASSIGN_OR_RETURN(const ModelFormat format, DetectModelFormat(path));
  switch (format) {
    case ModelFormat::kHuggingFace: {
      std::error_code ec;
      const std::string dir = std::filesystem::is_directory(path, ec)
                                  ? path
                                  : std::filesystem::path(path).parent_path().string();
      return loader_internal::LoadHf(dir.empty() ? "." : dir, options);
    }
    case ModelFormat::kGguf:
      return loader_internal::LoadGguf(path, options);
    case ModelFormat::kLlama2c:
      return loader_internal::LoadLlama2c(path, options);
  }
  return Internal("unknown model format");
}

}  // namespace

StatusOr<LoadedModel> LoadModel(const std::string& path, const LoadOptions& options) {
  if (options.dtype && *options.dtype != DType::kF32 && *options.dtype != DType::kF16 &&
      *options.dtype != DType::kBF16) {
    return InvalidArgument(StrCat("LoadOptions::dtype ", DTypeName(*options.dtype), " is not F32, F16 or BF16"));
  }
  if (options.quantization && *options.quantization != DType::kQ8_0 && *options.quantization != DType::kQ4_0) {
    return InvalidArgument(StrCat("LoadOptions::quantization ", DTypeName(*options.quantization), " is not Q8_0 or Q4_0"));
  }
  ASSIGN_OR_RETURN(LoadedModel m, LoadByFormat(path, options));
  Status s = ConvertWeights(options, &m);
  if (!s.ok()) return Status(s.code(), StrCat(path, ": ", s.message()));
  if (!options.use_mmap) CopyWeightsIntoMemory(&m.weights);
  return m;
}

namespace loader_internal {
namespace {

std::string LayerName(std::string_view pattern, int64_t layer) {
  std::string s(pattern);
  const size_t at = s.find("{}");
  if (at != std::string::npos) s.replace(at, 2, std::to_string(layer));
  return s;
}

std::string ShapeOf(std::initializer_list<int64_t> dims) {
  std::string s = "[";
  bool first = true;
  for (int64_t d : dims) {
    s += (first ? "" : ", ") + std::to_string(d);
    first = false;
  }
  return s + "]";
}

bool IsMatrixDType(DType t) {
  return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16 || IsGgufBlockDType(t);
}

// Alignment the kernels may assume for a dtype's elements (block formats start with an f16).
uintptr_t ElemAlign(DType t) { return (t == DType::kF32 || t == DType::kI32) ? 4 : 2; }

enum class Role { kMatrix, kVector };

class Assembler {
 public:
  Assembler(const TensorMap& tensors, std::string_view source, LoadedModel* out)
      : tensors_(tensors), source_(source), out_(out) {
    const ModelConfig& c = out->config;
    config_summary_ = StrCat("hidden_size=", c.hidden_size, ", intermediate_size=",
                             c.intermediate_size, ", num_heads=", c.num_heads, ", num_kv_heads=",
                             c.num_kv_heads, ", head_dim=", c.head_dim, ", vocab_size=",
                             c.vocab_size);
  }

  bool Has(const std::string& name) const { return tensors_.contains(name); }

  // Sets *view to the checked tensor; a missing tensor is recorded (reported together later).
  Status Take(const std::string& name, std::initializer_list<int64_t> shape, Role role,
              TensorView* view) {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) {
      missing_.push_back(name);
      return absl::OkStatus();
    }
    used_.insert(name);
    if (!it->second.ok()) return it->second.status();
    TensorView v = *it->second;
    bool shape_ok = v.ndim == static_cast<int>(shape.size());
    int i = 0;
    for (int64_t d : shape) shape_ok = shape_ok && v.shape[i++] == d;
    if (!shape_ok) {
      return InvalidArgument(StrCat("tensor '", name, "' has shape ", v.ShapeString(), ", but ",
                                    source_, " implies ", ShapeOf(shape), " (", config_summary_,
                                    ")"));
    }
    if (role == Role::kMatrix) {
      if (!IsMatrixDType(v.dtype)) {
        return InvalidArgument(StrCat("tensor '", name, "' has dtype ", DTypeName(v.dtype),
                                      ", which is not a weight-matrix dtype"));
      }
    } else {
      ASSIGN_OR_RETURN(v, ToF32Vector(name, v));
    }
    if (reinterpret_cast<uintptr_t>(v.data) % ElemAlign(v.dtype) != 0) {
      v.data = out_->weights.Own(v.data, v.nbytes());
      ++realigned_;
    }
    *view = v;
    return absl::OkStatus();
  }

  Status Finish() {
    if (realigned_ > 0) {
      out_->warnings.push_back(StrCat(realigned_, " tensors were not aligned to their element "
                                                  "size in the file and were copied"));
    }
    if (!missing_.empty()) {
      std::string list;
      for (size_t i = 0; i < missing_.size() && i < 8; ++i) list += (i ? ", " : "") + missing_[i];
      if (missing_.size() > 8) list += StrCat(" and ", missing_.size() - 8, " more");
      return NotFound(StrCat(missing_.size(), " required tensor(s) missing: ", list));
    }
    for (const auto& [name, v] : tensors_) {
      if (!used_.contains(name)) out_->unused_tensors.push_back(name);
    }
    std::sort(out_->unused_tensors.begin(), out_->unused_tensors.end());
    return absl::OkStatus();
  }

 private:
  // Norms, biases and rope factors are handed out as F32; non-finite values are refused.
  StatusOr<TensorView> ToF32Vector(const std::string& name, TensorView v) {
    const int64_t n = v.numel();
    if (v.dtype == DType::kF16 || v.dtype == DType::kBF16) {
      auto* dst = static_cast<float*>(out_->weights.Allocate(static_cast<size_t>(n) * 4));
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, static_cast<const uint8_t*>(v.data) + 2 * i, 2);
        dst[i] = v.dtype == DType::kF16 ? F16ToF32(h) : Bf16ToF32(h);
      }
      v.dtype = DType::kF32;
      v.data = dst;
    } else if (v.dtype != DType::kF32) {
      return InvalidArgument(StrCat("tensor '", name, "' has dtype ", DTypeName(v.dtype),
                                    "; norms and biases must be F32, F16 or BF16"));
    }
    for (int64_t i = 0; i < n; ++i) {
      float x;
      std::memcpy(&x, static_cast<const uint8_t*>(v.data) + 4 * i, 4);
      if (!std::isfinite(x)) {
        return InvalidArgument(StrCat("tensor '", name, "' holds a non-finite value (", x,
                                      ") at index ", i));
      }
    }
    return v;
  }

  const TensorMap& tensors_;
  std::string_view source_;
  LoadedModel* out_;
  std::string config_summary_;
  std::vector<std::string> missing_;
  absl::flat_hash_set<std::string> used_;
  int realigned_ = 0;
};

}  // namespace

const NameScheme& HfNames() {
  static const NameScheme kNames = {
      .embed = "model.embed_tokens.weight",
      .final_norm = "model.norm.weight",
      .lm_head = "lm_head.weight",
      .rope_freqs = "",
      .attn_norm = "model.layers.{}.input_layernorm.weight",
      .wq = "model.layers.{}.self_attn.q_proj.weight",
      .wk = "model.layers.{}.self_attn.k_proj.weight",
      .wv = "model.layers.{}.self_attn.v_proj.weight",
      .bq = "model.layers.{}.self_attn.q_proj.bias",
      .bk = "model.layers.{}.self_attn.k_proj.bias",
      .bv = "model.layers.{}.self_attn.v_proj.bias",
      .q_norm = "model.layers.{}.self_attn.q_norm.weight",
      .k_norm = "model.layers.{}.self_attn.k_norm.weight",
      .wo = "model.layers.{}.self_attn.o_proj.weight",
      .ffn_norm = "model.layers.{}.post_attention_layernorm.weight",
      .w_gate = "model.layers.{}.mlp.gate_proj.weight",
      .w_up = "model.layers.{}.mlp.up_proj.weight",
      .w_down = "model.layers.{}.mlp.down_proj.weight",
  };
  return kNames;
}

const NameScheme& GgufNames() {
  static const NameScheme kNames = {
      .embed = "token_embd.weight",
      .final_norm = "output_norm.weight",
      .lm_head = "output.weight",
      .rope_freqs = "rope_freqs.weight",
      .attn_norm = "blk.{}.attn_norm.weight",
      .wq = "blk.{}.attn_q.weight",
      .wk = "blk.{}.attn_k.weight",
      .wv = "blk.{}.attn_v.weight",
      .bq = "blk.{}.attn_q.bias",
      .bk = "blk.{}.attn_k.bias",
      .bv = "blk.{}.attn_v.bias",
      .q_norm = "blk.{}.attn_q_norm.weight",
      .k_norm = "blk.{}.attn_k_norm.weight",
      .wo = "blk.{}.attn_output.weight",
      .ffn_norm = "blk.{}.ffn_norm.weight",
      .w_gate = "blk.{}.ffn_gate.weight",
      .w_up = "blk.{}.ffn_up.weight",
      .w_down = "blk.{}.ffn_down.weight",
  };
  return kNames;
}

Status AssembleWeights(const TensorMap& tensors, const NameScheme& names,
                       std::string_view config_source, LoadedModel* out) {
  ModelConfig& c = out->config;
  ModelWeights& w = out->weights;
  Assembler a(tensors, config_source, out);
  const int64_t hidden = c.hidden_size, ffn = c.intermediate_size, vocab = c.vocab_size;
  const int64_t q_dim = c.q_dim(), kv_dim = c.kv_dim();
  RETURN_IF_ERROR(a.Take(names.embed, {vocab, hidden}, Role::kMatrix, &w.embed));
  RETURN_IF_ERROR(a.Take(names.final_norm, {hidden}, Role::kVector, &w.final_norm));
  w.layers.resize(static_cast<size_t>(c.num_layers));
  for (int64_t l = 0; l < c.num_layers; ++l) {
    LayerWeights& lw = w.layers[static_cast<size_t>(l)];
    auto take = [&](const std::string& pattern, std::initializer_list<int64_t> shape, Role role,
                    TensorView* v) { return a.Take(LayerName(pattern, l), shape, role, v); };
    RETURN_IF_ERROR(take(names.attn_norm, {hidden}, Role::kVector, &lw.attn_norm));
    RETURN_IF_ERROR(take(names.wq, {q_dim, hidden}, Role::kMatrix, &lw.wq));
    RETURN_IF_ERROR(take(names.wk, {kv_dim, hidden}, Role::kMatrix, &lw.wk));
    RETURN_IF_ERROR(take(names.wv, {kv_dim, hidden}, Role::kMatrix, &lw.wv));
    if (c.qkv_bias) {
      RETURN_IF_ERROR(take(names.bq, {q_dim}, Role::kVector, &lw.bq));
      RETURN_IF_ERROR(take(names.bk, {kv_dim}, Role::kVector, &lw.bk));
      RETURN_IF_ERROR(take(names.bv, {kv_dim}, Role::kVector, &lw.bv));
    }
    if (c.qk_norm) {
      RETURN_IF_ERROR(take(names.q_norm, {c.head_dim}, Role::kVector, &lw.q_norm));
      RETURN_IF_ERROR(take(names.k_norm, {c.head_dim}, Role::kVector, &lw.k_norm));
    }
    RETURN_IF_ERROR(take(names.wo, {hidden, q_dim}, Role::kMatrix, &lw.wo));
    RETURN_IF_ERROR(take(names.ffn_norm, {hidden}, Role::kVector, &lw.ffn_norm));
    RETURN_IF_ERROR(take(names.w_gate, {ffn, hidden}, Role::kMatrix, &lw.w_gate));
    RETURN_IF_ERROR(take(names.w_up, {ffn, hidden}, Role::kMatrix, &lw.w_up));
    RETURN_IF_ERROR(take(names.w_down, {hidden, ffn}, Role::kMatrix, &lw.w_down));
  }
  if (c.tie_word_embeddings) {
    w.lm_head = w.embed;
  } else if (a.Has(names.lm_head)) {
    RETURN_IF_ERROR(a.Take(names.lm_head, {vocab, hidden}, Role::kMatrix, &w.lm_head));
  } else {
    out->warnings.push_back(StrCat(config_source, " says the embeddings are not tied, but '",
                                   names.lm_head, "' is absent; using the embedding"));
    c.tie_word_embeddings = true;
    w.lm_head = w.embed;
  }
  if (!names.rope_freqs.empty() && a.Has(names.rope_freqs)) {
    RETURN_IF_ERROR(a.Take(names.rope_freqs, {c.head_dim / 2}, Role::kVector, &w.rope_freqs));
  }
  return a.Finish();
}

Status ApplyOptions(const LoadOptions& options, LoadedModel* out) {
  out->file_max_position_embeddings = out->config.max_position_embeddings;
  if (options.max_model_len < 0 || options.max_model_len > ModelConfig::kMaxPositions) {
    return InvalidArgument(StrCat("max_model_len = ", options.max_model_len, " is out of range [0, ",
                                  ModelConfig::kMaxPositions, "]"));
  }
  if (options.max_model_len > 0) {
    if (options.max_model_len > out->config.max_position_embeddings) {
      out->warnings.push_back(StrCat("max_model_len ", options.max_model_len,
                                     " exceeds the ", out->config.max_position_embeddings,
                                     " positions the model file states"));
    }
    out->config.max_position_embeddings = options.max_model_len;
  }
  return out->config.Validate();
}

void Prefault(const std::vector<std::span<const uint8_t>>& ranges, std::string_view label,
              bool show_progress) {
  constexpr uint64_t kBigBytes = 256ull << 20;
  constexpr uint64_t kPage = 4096;
  uint64_t total = 0;
  for (const auto& r : ranges) total += r.size();
  if (show_progress && total >= kBigBytes && ::isatty(STDERR_FILENO)) {
    ProgressBar bar(std::string(label), total, "MB", 1024.0 * 1024.0);
    uint64_t done = 0;
    volatile uint8_t sink = 0;
    for (const auto& r : ranges) {
      for (uint64_t off = 0; off < r.size(); off += kPage) {
        sink = sink ^ r[off];
        if (off % (16ull << 20) == 0) bar.Update(done + off);
      }
      done += r.size();
      bar.Update(done);
    }
    bar.Finish();
    return;
  }
  for (const auto& r : ranges) {
    if (r.empty()) continue;
    const uintptr_t start = reinterpret_cast<uintptr_t>(r.data()) / kPage * kPage;
    const uintptr_t end = reinterpret_cast<uintptr_t>(r.data()) + r.size();
    ::madvise(reinterpret_cast<void*>(start), end - start, MADV_WILLNEED);
  }
}

}  // namespace loader_internal
}  // namespace pagellm
