// LoadLlama2c: llama2.c checkpoints (legacy header and "ak42" version 1), laid out as run.c reads
// them, mapped to GGUF-style tensor names and assembled like any other format.
//
// Legacy (export.py legacy_export / run.c):
//   int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (< 0: unshared classifier),
//   seq_len; then f32: token_embedding[vocab, dim], rms_att[L, dim], wq[L, dim, dim],
//   wk[L, kv_dim, dim], wv[L, kv_dim, dim], wo[L, dim, dim], rms_ffn[L, dim],
//   w1[L, hidden, dim], w2[L, dim, hidden], w3[L, hidden, dim], rms_final[dim],
//   freq_cis_real[seq_len, head_size/2], freq_cis_imag[same] (skipped), wcls[vocab, dim] if unshared.
// Version 1 (export.py version1_export): u32 magic 0x616b3432 ("ak42"), int32 version = 1, the same
//   7 ints, u8 shared_classifier, zero padding to 256 bytes; then f32: rms_att[L, dim],
//   rms_ffn[L, dim], rms_final[dim], token_embedding, wq, wk, wv, wo, w1, w2, w3, wcls if unshared.
#include <cstring>
#include <filesystem>

#include "src/base/mapped_file.h"
#include "src/model/loader_internal.h"

namespace pagellm::loader_internal {
namespace {

constexpr uint32_t kMagicV1 = 0x616b3432;
constexpr uint64_t kHeaderBytesV1 = 256;
constexpr uint64_t kHeaderBytesLegacy = 7 * 4;

// Hands out consecutive f32 tensors from the data section; the caller has checked the total size.
class Cursor {
 public:
  Cursor(const uint8_t* base, uint64_t offset) : base_(base), offset_(offset) {}
  const uint8_t* Take(uint64_t floats) {
    const uint8_t* p = base_ + offset_;
    offset_ += floats * 4;
    return p;
  }
  uint64_t offset() const { return offset_; }

 private:
  const uint8_t* base_;
  uint64_t offset_;
};

// Where run.c's tokenizer would be: the option, else tokenizer.bin, else the only tok*.bin.
std::string FindTokenizer(const std::string& checkpoint, const LoadOptions& options,
                          std::vector<std::string>* warnings) {
  namespace fs = std::filesystem;
  if (!options.tokenizer_path.empty()) return options.tokenizer_path;
  std::error_code ec;
  const fs::path dir = fs::path(checkpoint).parent_path().empty() ? fs::path(".")
                                                                  : fs::path(checkpoint).parent_path();
  if (fs::exists(dir / "tokenizer.bin", ec)) return (dir / "tokenizer.bin").string();
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("tok", 0) == 0 && entry.path().extension() == ".bin" &&
        entry.path() != fs::path(checkpoint)) {
      found.push_back(entry.path().string());
    }
  }
  if (found.size() == 1) return found[0];
  warnings->push_back(found.empty()
                          ? StrCat("no llama2.c tokenizer (tokenizer.bin or tok*.bin) beside ", checkpoint)
                          : StrCat(found.size(), " tok*.bin files beside ", checkpoint,
                                   "; pass the tokenizer path explicitly"));
  return "";
}

}  // namespace

StatusOr<LoadedModel> LoadLlama2c(const std::string& path, const LoadOptions& options) {
  LoadedModel out;
  out.format = ModelFormat::kLlama2c;
  out.path = path;
  ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file, MappedFile::Open(path));
  const uint8_t* base = file->data();
  const uint64_t size = file->size();
  auto error = [&](std::string_view msg) {
    return InvalidArgument(StrCat(path, ": llama2.c checkpoint: ", msg));
  };
  if (size < kHeaderBytesLegacy) {
    return DataLoss(StrCat(path, ": llama2.c checkpoint: truncated file (", size,
                           " bytes, the header alone needs ", kHeaderBytesLegacy, ")"));
  }
  uint32_t magic;
  std::memcpy(&magic, base, 4);
  const bool v1 = magic == kMagicV1;
  int32_t hdr[7];
  bool shared = false;
  uint64_t data_offset = kHeaderBytesLegacy;
  if (v1) {
    if (size < kHeaderBytesV1) {
      return DataLoss(StrCat(path, ": llama2.c checkpoint: truncated file (", size,
                             " bytes, the version 1 header needs ", kHeaderBytesV1, ")"));
    }
    int32_t version;
    std::memcpy(&version, base + 4, 4);
    if (version == 2) {
      return Unimplemented(StrCat(path, ": llama2.c version 2 (int8 quantized) checkpoints are "
                                        "not supported; export version 1 (fp32)"));
    }
    if (version != 1) return error(StrCat("unknown version ", version, " after the ak42 magic"));
    std::memcpy(hdr, base + 8, sizeof(hdr));
    if (base[36] > 1) return error(StrCat("shared_classifier flag is ", int{base[36]}, ", not 0 or 1"));
    shared = base[36] == 1;
    data_offset = kHeaderBytesV1;
  } else {
    std::memcpy(hdr, base, sizeof(hdr));
    shared = hdr[5] > 0;
  }
  const int64_t dim = hdr[0], hidden = hdr[1], n_layers = hdr[2], n_heads = hdr[3],
                n_kv_heads = hdr[4], seq_len = hdr[6];
  const int64_t vocab = hdr[5] < 0 ? -static_cast<int64_t>(hdr[5]) : hdr[5];
  const std::string header_text =
      StrCat("dim=", dim, " hidden_dim=", hidden, " n_layers=", n_layers, " n_heads=", n_heads,
             " n_kv_heads=", n_kv_heads, " vocab_size=", hdr[5], " seq_len=", seq_len);
  if (n_heads <= 0 || dim <= 0 || dim % n_heads != 0) {
    return error(StrCat("header (", header_text, ") is invalid: dim must be a positive multiple of n_heads"));
  }

  ModelConfig& c = out.config;
  c.architecture = "llama";
  c.hidden_size = dim;
  c.intermediate_size = hidden;
  c.num_layers = n_layers;
  c.num_heads = n_heads;
  c.num_kv_heads = n_kv_heads;
  c.head_dim = dim / n_heads;
  c.vocab_size = vocab;
  c.max_position_embeddings = seq_len;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.rope_style = RopeStyle::kInterleaved;
  c.tie_word_embeddings = shared;
  c.bos_token_id = 1;  // llama2.c's SentencePiece convention
  c.eos_token_ids = {2};
  if (Status s = c.Validate(); !s.ok()) {
    return error(StrCat("header (", header_text, ") is invalid: ", s.message()));
  }

  // Validate() bounds every factor, so these products cannot overflow 64 bits.
  const uint64_t L = static_cast<uint64_t>(n_layers), D = static_cast<uint64_t>(dim),
                 H = static_cast<uint64_t>(hidden), V = static_cast<uint64_t>(vocab),
                 KV = static_cast<uint64_t>(c.kv_dim()), HS = static_cast<uint64_t>(c.head_dim);
  uint64_t floats = V * D + L * (2 * D + 2 * D * D + 2 * KV * D + 3 * D * H) + D;
  if (!v1) floats += static_cast<uint64_t>(seq_len) * HS;  // freq_cis real + imag (HS/2 each)
  if (!shared) floats += V * D;
  const uint64_t expected = data_offset + floats * 4;
  if (size != expected) {
    const std::string msg = StrCat(path, ": llama2.c checkpoint: header (", header_text,
                                   ") implies ", expected, " bytes but the file has ", size);
    if (size < expected) return DataLoss(StrCat(msg, " (truncated file)"));
    return InvalidArgument(StrCat(msg, " (trailing data, or a wrong classifier flag)"));
  }
  RETURN_IF_ERROR(ApplyOptions(options, &out));

  // Per-layer tensors are stored layer after layer within each kind.
  TensorMap tensors;
  Cursor cur(base, data_offset);
  auto add_layers = [&](std::string_view pattern, std::initializer_list<int64_t> shape) {
    uint64_t n = 1;
    for (int64_t d : shape) n *= static_cast<uint64_t>(d);
    for (int64_t l = 0; l < n_layers; ++l) {
      std::string name(pattern);
      name.replace(name.find("{}"), 2, std::to_string(l));
      TensorView v = MakeView(DType::kF32, cur.Take(n), shape);
      tensors.emplace(std::move(name), v);
    }
  };
  auto add = [&](const char* name, std::initializer_list<int64_t> shape) {
    uint64_t n = 1;
    for (int64_t d : shape) n *= static_cast<uint64_t>(d);
    tensors.emplace(name, MakeView(DType::kF32, cur.Take(n), shape));
  };
  const NameScheme& g = GgufNames();
  const int64_t kv_dim = c.kv_dim();
  auto add_matrices = [&] {
    add_layers(g.wq, {dim, dim});
    add_layers(g.wk, {kv_dim, dim});
    add_layers(g.wv, {kv_dim, dim});
    add_layers(g.wo, {dim, dim});
  };
  if (v1) {
    add_layers(g.attn_norm, {dim});
    add_layers(g.ffn_norm, {dim});
    add(g.final_norm.c_str(), {dim});
    add(g.embed.c_str(), {vocab, dim});
    add_matrices();
    add_layers(g.w_gate, {hidden, dim});
    add_layers(g.w_down, {dim, hidden});
    add_layers(g.w_up, {hidden, dim});
  } else {
    add(g.embed.c_str(), {vocab, dim});
    add_layers(g.attn_norm, {dim});
    add_matrices();
    add_layers(g.ffn_norm, {dim});
    add_layers(g.w_gate, {hidden, dim});
    add_layers(g.w_down, {dim, hidden});
    add_layers(g.w_up, {hidden, dim});
    add(g.final_norm.c_str(), {dim});
    cur.Take(static_cast<uint64_t>(seq_len) * HS);  // freq_cis_real + freq_cis_imag
  }
  if (!shared) add(g.lm_head.c_str(), {vocab, dim});
  if (cur.offset() != size) return Internal(StrCat(path, ": llama2.c layout arithmetic is off"));

  Status s = AssembleWeights(tensors, g, "the llama2.c header", &out);
  if (!s.ok()) return Status(s.code(), StrCat(path, ": ", s.message()));
  out.llama2c_tokenizer_path = FindTokenizer(path, options, &out.warnings);
  Prefault({file->bytes()}, StrCat("Loading ", std::filesystem::path(path).filename().string()),
           options.show_progress);
  out.weights.files.push_back(std::move(file));
  return out;
}

}  // namespace pagellm::loader_internal
