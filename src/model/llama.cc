// LlamaModel: weight validation, batch validation and the paged forward pass.
#include "src/model/llama.h"


#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "src/kernels/quantize.h"

namespace pagellm {
namespace {

// What a tensor may be stored as.
enum class Kind {
  kMatrix,     // any dtype the MatMul kernels support
  kEmbedding,  // F32, F16, BF16 or a GGUF block type (EmbeddingLookup)
  kF32,        // norms, biases, rope_freqs
};

// Checks one tensor view: present, `dims` shape, and a dtype its kind accepts.
Status CheckTensor(const TensorView& t, std::string_view name, std::initializer_list<int64_t> dims,
                   Kind kind, const Kernels& kernels) {
  if (t.empty()) return InvalidArgument(StrCat("weight ", name, " is missing"));
  bool shape_ok = t.ndim == static_cast<int>(dims.size());
  int i = 0;
  for (int64_t d : dims) shape_ok = shape_ok && t.shape[i++] == d;
  if (!shape_ok) {
    std::string want = "[";
    for (int64_t d : dims) want += (want.size() > 1 ? ", " : "") + std::to_string(d);
    return InvalidArgument(StrCat("weight ", name, " has shape ", t.ShapeString(), ", the config implies ", want, "]"));
  }
  const bool dtype_ok =
      kind == Kind::kMatrix      ? kernels.SupportsWeights(t.dtype)
      : kind == Kind::kEmbedding ? (t.dtype == DType::kF32 || t.dtype == DType::kF16 || t.dtype == DType::kBF16 ||
                                    IsGgufBlockDType(t.dtype))
                                 : t.dtype == DType::kF32;
  if (!dtype_ok) {
    return kind == Kind::kF32 ? InvalidArgument(StrCat("weight ", name, " must be F32, not ", DTypeName(t.dtype)))
                              : Unimplemented(StrCat("weight ", name, ": dtype ", DTypeName(t.dtype),
                                                     " is not supported by the ", kernels.name(), " kernels yet"));
  }
  if (Info(t.dtype).block_elems > 1 && t.shape[t.ndim - 1] % Info(t.dtype).block_elems != 0) {
    return InvalidArgument(StrCat("weight ", name, " of dtype ", DTypeName(t.dtype), " has rows of ",
                                  t.shape[t.ndim - 1], " values, not whole blocks of ", Info(t.dtype).block_elems));
  }
  return absl::OkStatus();
}

Status CheckWeights(const ModelConfig& c, const ModelWeights& w, const Kernels& kernels) {
  const int64_t h = c.hidden_size;
  RETURN_IF_ERROR(CheckTensor(w.embed, "embed", {c.vocab_size, h}, Kind::kEmbedding, kernels));
  RETURN_IF_ERROR(CheckTensor(w.lm_head, "lm_head", {c.vocab_size, h}, Kind::kMatrix, kernels));
  RETURN_IF_ERROR(CheckTensor(w.final_norm, "final_norm", {h}, Kind::kF32, kernels));
  if (static_cast<int64_t>(w.layers.size()) != c.num_layers) {
    return InvalidArgument(StrCat("weights have ", w.layers.size(), " layers, the config ", c.num_layers));
  }
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const LayerWeights& l = w.layers[i];
    const std::string p = StrCat("layers.", i, ".");
    RETURN_IF_ERROR(CheckTensor(l.attn_norm, p + "attn_norm", {h}, Kind::kF32, kernels));
    RETURN_IF_ERROR(CheckTensor(l.wq, p + "wq", {c.q_dim(), h}, Kind::kMatrix, kernels));
    RETURN_IF_ERROR(CheckTensor(l.wk, p + "wk", {c.kv_dim(), h}, Kind::kMatrix, kernels));
    RETURN_IF_ERROR(CheckTensor(l.wv, p + "wv", {c.kv_dim(), h}, Kind::kMatrix, kernels));
    RETURN_IF_ERROR(CheckTensor(l.wo, p + "wo", {h, c.q_dim()}, Kind::kMatrix, kernels));
    RETURN_IF_ERROR(CheckTensor(l.ffn_norm, p + "ffn_norm", {h}, Kind::kF32, kernels));
    RETURN_IF_ERROR(CheckTensor(l.w_gate, p + "w_gate", {c.intermediate_size, h}, Kind::kMatrix, kernels));
    RETURN_IF_ERROR(CheckTensor(l.w_up, p + "w_up", {c.intermediate_size, h}, Kind::kMatrix, kernels));
    RETURN_IF_ERROR(CheckTensor(l.w_down, p + "w_down", {h, c.intermediate_size}, Kind::kMatrix, kernels));
    if (c.qkv_bias) {
      RETURN_IF_ERROR(CheckTensor(l.bq, p + "bq", {c.q_dim()}, Kind::kF32, kernels));
      RETURN_IF_ERROR(CheckTensor(l.bk, p + "bk", {c.kv_dim()}, Kind::kF32, kernels));
      RETURN_IF_ERROR(CheckTensor(l.bv, p + "bv", {c.kv_dim()}, Kind::kF32, kernels));
    }
    if (c.qk_norm) {
      RETURN_IF_ERROR(CheckTensor(l.q_norm, p + "q_norm", {c.head_dim}, Kind::kF32, kernels));
      RETURN_IF_ERROR(CheckTensor(l.k_norm, p + "k_norm", {c.head_dim}, Kind::kF32, kernels));
    }
  }
  if (!w.rope_freqs.empty()) {
    RETURN_IF_ERROR(CheckTensor(w.rope_freqs, "rope_freqs", {c.head_dim / 2}, Kind::kF32, kernels));
  }
  return absl::OkStatus();
}

// Q4_0 / Q8_0 / Q5_0 / IQ4_NL / Q4_K / Q5_K / Q6_K matrices become their x16 repacks (quantize.h)
// when the kernels have a MatMul for them (AVX512-VNNI: rows in vector lanes, no per-block
// shuffles or horizontal sums; kernels_bench: Q4_0 GEMM 1.6-2x, GEMV up to 1.2x the plain
// kernels; Q5_0, llama.cpp's fallback for the Q4_K rows of Qwen2.5-0.5B's Q4_K_M file: GEMV
// n4864 k896 2-2.5x and GEMM 2.4x the plain kernel; against widening it exactly to Q8_0x16, as
// before, GEMV 1.8x and GEMM 0.8x). Same size: owned weights are rearranged in place; a matrix in a file mapping, or a head tied to the embedding
// (whose lookup reads plain rows), gets an owned copy. Matrices with rows not in whole 16-row
// groups stay as they are.
void RepackForKernels(const Kernels& kernels, ModelWeights* w) {
  struct Repack {
    DType from, to;
    void (*pack)(const uint8_t*, int64_t, int64_t, uint8_t*);
  };
  const Repack repacks[] = {{DType::kQ4_0, DType::kQ4_0x16, &RepackQ4_0x16},
                            {DType::kQ8_0, DType::kQ8_0x16, &RepackQ8_0x16},
                            {DType::kQ4_K, DType::kQ4_Kx16, &RepackQ4_Kx16},
                            {DType::kQ5_K, DType::kQ5_Kx16, &RepackQ5_Kx16},
                            {DType::kQ5_0, DType::kQ5_0x16, &RepackQ5_0x16},
                            {DType::kIQ4_NL, DType::kIQ4_NLx16, &RepackIQ4_NLx16},
                            {DType::kQ6_K, DType::kQ6_Kx16, &RepackQ6_Kx16}};
  std::vector<uint8_t> tmp;
  auto repack = [&](TensorView* v) {
    const Repack* r = nullptr;
    for (const Repack& c : repacks) {
      if (c.from == v->dtype && kernels.SupportsWeights(c.to)) r = &c;
    }
    if (r == nullptr || v->shape[0] % kQ4x16Rows != 0) return;
    const int64_t n = v->shape[0], k = v->shape[1];
    const bool tied = w->lm_head.data == w->embed.data && v == &w->lm_head;
    const auto* src = static_cast<const uint8_t*>(v->data);
    uint8_t* dst = nullptr;
    if (w->IsOwned(src) && !tied) {
      tmp.resize(static_cast<size_t>(v->nbytes()));
      r->pack(src, n, k, tmp.data());
      dst = const_cast<uint8_t*>(src);  // owned, writable memory
      std::memcpy(dst, tmp.data(), tmp.size());
    } else {
      dst = static_cast<uint8_t*>(w->Allocate(static_cast<size_t>(v->nbytes()), /*huge_pages=*/true));
      r->pack(src, n, k, dst);
    }
    v->data = dst;
    v->dtype = r->to;
  };
  repack(&w->lm_head);
  for (LayerWeights& l : w->layers) {
    for (TensorView* v : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
      repack(v);
    }
  }
}

// Multiply-adds x2 of `rows` activation rows through the matrices (the forward profile).
double Flops(int64_t rows, std::initializer_list<const TensorView*> matrices) {
  double elems = 0;
  for (const TensorView* m : matrices) elems += static_cast<double>(m->numel());
  return 2.0 * static_cast<double>(rows) * elems;
}

}  // namespace

StatusOr<std::unique_ptr<LlamaModel>> LlamaModel::Create(ModelConfig config, ModelWeights weights,
                                                         const Kernels* kernels) {
  RETURN_IF_ERROR(config.Validate());
  if (config.head_dim > kMaxKernelHeadDim) {
    return Unimplemented(StrCat("head_dim ", config.head_dim, " > ", kMaxKernelHeadDim,
                                " is not supported by the attention kernels"));
  }
  const Kernels& k = kernels != nullptr ? *kernels : Kernels::Default();
  RETURN_IF_ERROR(CheckWeights(config, weights, k));
  RepackForKernels(k, &weights);
  return std::unique_ptr<LlamaModel>(new LlamaModel(std::move(config), std::move(weights), k));
}

LlamaModel::LlamaModel(ModelConfig config, ModelWeights weights, const Kernels& kernels)
    : config_(std::move(config)), weights_(std::move(weights)), kernels_(kernels) {
  rope_pairing_ = config_.rope_style == RopeStyle::kNeox ? RopePairing::kNeox : RopePairing::kInterleaved;
  RopeParams rp;
  rp.head_dim = config_.head_dim;
  rp.theta = config_.rope_theta;
  const RopeScaling& s = config_.rope_scaling;
  rp.scaling = s.type == RopeScaling::Type::kLinear   ? RopeParams::Scaling::kLinear
               : s.type == RopeScaling::Type::kLlama3 ? RopeParams::Scaling::kLlama3
                                                      : RopeParams::Scaling::kNone;
  rp.factor = s.factor;
  rp.low_freq_factor = s.low_freq_factor;
  rp.high_freq_factor = s.high_freq_factor;
  rp.original_max_position_embeddings = s.original_max_position_embeddings;
  if (!weights_.rope_freqs.empty()) {
    rp.freq_divisors = {weights_.rope_freqs.as<float>(), static_cast<size_t>(config_.head_dim / 2)};
  }
  inv_freq_ = RopeInverseFrequencies(rp);
}

KvCacheSpec LlamaModel::KvSpec(int64_t block_size, int64_t num_blocks) const {
  KvCacheSpec spec;
  spec.num_layers = config_.num_layers;
  spec.num_kv_heads = config_.num_kv_heads;
  spec.head_dim = config_.head_dim;
  spec.block_size = block_size;
  spec.num_blocks = num_blocks;
  return spec;
}

Status LlamaModel::ValidateBatch(const ForwardBatch& b, const KvStorage& kv,
                                 std::span<const float> logits) {
  const int64_t n = b.num_tokens();
  if (static_cast<int64_t>(b.positions.size()) != n || static_cast<int64_t>(b.seq_idx.size()) != n ||
      static_cast<int64_t>(b.slots.size()) != n) {
    return InvalidArgument(StrCat("batch arrays disagree: ", n, " tokens, ", b.positions.size(), " positions, ",
                                  b.seq_idx.size(), " seq_idx, ", b.slots.size(), " slots"));
  }
  const KvCacheSpec& spec = kv.spec();
  if (spec.num_layers != config_.num_layers || spec.num_kv_heads != config_.num_kv_heads ||
      spec.head_dim != config_.head_dim) {
    return InvalidArgument(StrCat("KV storage is for ", spec.num_layers, " layers x ", spec.num_kv_heads,
                                  " heads x ", spec.head_dim, ", the model needs ", config_.num_layers, " x ",
                                  config_.num_kv_heads, " x ", config_.head_dim));
  }
  const int64_t num_logits = static_cast<int64_t>(b.logits_idx.size());
  if (static_cast<int64_t>(logits.size()) < num_logits * config_.vocab_size) {
    return InvalidArgument(StrCat("logits buffer holds ", logits.size(), " floats, ", num_logits, " rows of ",
                                  config_.vocab_size, " needed"));
  }
  for (int32_t r : b.logits_idx) {
    if (r < 0 || r >= n) return InvalidArgument(StrCat("logits_idx ", r, " outside the batch of ", n));
  }
  const int64_t num_seqs = static_cast<int64_t>(b.seqs.size());
  const int64_t bs = spec.block_size;
  max_pos_.assign(b.seqs.size(), -1);
  for (int64_t i = 0; i < n; ++i) {
    if (b.tokens[i] < 0 || b.tokens[i] >= config_.vocab_size) {
      return InvalidArgument(StrCat("token ", b.tokens[i], " at batch row ", i, " outside the vocabulary of ",
                                    config_.vocab_size));
    }
    const int32_t s = b.seq_idx[i];
    if (s < 0 || s >= num_seqs) return InvalidArgument(StrCat("seq_idx ", s, " at row ", i, " outside ", num_seqs, " sequences"));
    const BatchSequence& seq = b.seqs[s];
    const int32_t pos = b.positions[i];
    if (pos < 0 || pos >= seq.context_len) {
      return InvalidArgument(StrCat("position ", pos, " at row ", i, " outside the context of ", seq.context_len));
    }
    if (pos / bs >= static_cast<int64_t>(seq.block_table.size())) {
      return InvalidArgument(StrCat("position ", pos, " at row ", i, " beyond the block table (",
                                    seq.block_table.size(), " blocks of ", bs, ")"));
    }
    const BlockId block = seq.block_table[pos / bs];
    if (block < 0 || block >= spec.num_blocks) {
      return InvalidArgument(StrCat("block id ", block, " outside the KV storage of ", spec.num_blocks));
    }
    if (b.slots[i] != static_cast<int64_t>(block) * bs + pos % bs) {
      return InvalidArgument(StrCat("slot ", b.slots[i], " at row ", i, " disagrees with the block table (",
                                    static_cast<int64_t>(block) * bs + pos % bs, ")"));
    }
    max_pos_[s] = std::max(max_pos_[s], pos);
  }
  // Every block attention will read, not only those written.
  for (int64_t s = 0; s < num_seqs; ++s) {
    for (int64_t j = 0; j <= max_pos_[s] / bs && max_pos_[s] >= 0; ++j) {
      const BlockId block = b.seqs[s].block_table[j];
      if (block < 0 || block >= spec.num_blocks) {
        return InvalidArgument(StrCat("block id ", block, " in the table of sequence ", s,
                                      " outside the KV storage of ", spec.num_blocks));
      }
    }
  }
  return absl::OkStatus();
}

void LlamaModel::EnsureScratch(int64_t t, int64_t num_logits) {
  if (t > capacity_tokens_) {
    const ModelConfig& c = config_;
    const auto n = static_cast<size_t>(t);
    x_.Resize(n * c.hidden_size);
    xn_.Resize(n * c.hidden_size);
    q_.Resize(n * c.q_dim());
    k_.Resize(n * c.kv_dim());
    v_.Resize(n * c.kv_dim());
    attn_.Resize(n * c.q_dim());
    gate_.Resize(n * c.intermediate_size);
    up_.Resize(n * c.intermediate_size);
    rope_.Resize(n * 2 * c.head_dim);
    capacity_tokens_ = t;
  }
  if (num_logits > capacity_logits_) {
    last_.Resize(static_cast<size_t>(num_logits * config_.hidden_size));
    capacity_logits_ = num_logits;
  }
}

Status LlamaModel::Forward(const ForwardBatch& batch, KvStorage& kv, ThreadPool& pool,
                           std::span<float> logits) {
  ProfileClock clock(profile_);
  RETURN_IF_ERROR(ValidateBatch(batch, kv, logits));
  const int64_t t = batch.num_tokens();
  if (t == 0) return absl::OkStatus();
  const ModelConfig& c = config_;
  const int64_t hidden = c.hidden_size, hd = c.head_dim, nh = c.num_heads, nkv = c.num_kv_heads;
  const int64_t num_logits = static_cast<int64_t>(batch.logits_idx.size());
  const float eps = static_cast<float>(c.rms_norm_eps);
  EnsureScratch(t, num_logits);
  const Kernels& kn = kernels_;

  tables_.clear();
  for (const BatchSequence& s : batch.seqs) tables_.push_back(s.block_table);
  kn.EmbeddingLookup(weights_.embed, batch.tokens, x_.data());
  kn.BuildRopeTable(batch.positions, inv_freq_, rope_pairing_, rope_.data());
  clock.Mark(ForwardOp::kEmbed);

  PagedAttentionArgs attn;
  attn.q = q_.data();
  attn.q_stride = c.q_dim();
  attn.out = attn_.data();
  attn.num_tokens = t;
  attn.num_heads = nh;
  attn.num_kv_heads = nkv;
  attn.head_dim = hd;
  attn.block_size = kv.block_size();
  attn.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  attn.positions = batch.positions;
  attn.seq_idx = batch.seq_idx;
  attn.block_tables = tables_;

  for (int64_t l = 0; l < c.num_layers; ++l) {
    const LayerWeights& w = weights_.layers[l];
    // Attention block.
    kn.RmsNorm(x_.data(), t, hidden, w.attn_norm.as<float>(), eps, xn_.data());
    clock.Mark(ForwardOp::kNorm);
    const Kernels::MatMulOutput qkv[] = {{w.wq, c.qkv_bias ? w.bq.as<float>() : nullptr, q_.data()},
                                         {w.wk, c.qkv_bias ? w.bk.as<float>() : nullptr, k_.data()},
                                         {w.wv, c.qkv_bias ? w.bv.as<float>() : nullptr, v_.data()}};
    kn.MatMul(pool, xn_.data(), t, qkv);
    clock.Mark(ForwardOp::kQkv, w.wq.nbytes() + w.wk.nbytes() + w.wv.nbytes(), Flops(t, {&w.wq, &w.wk, &w.wv}));
    if (c.qk_norm) {
      kn.RmsNorm(q_.data(), t * nh, hd, w.q_norm.as<float>(), eps, q_.data());
      kn.RmsNorm(k_.data(), t * nkv, hd, w.k_norm.as<float>(), eps, k_.data());
    }
    kn.Rope(q_.data(), t, nh, hd, c.q_dim(), rope_.data(), rope_pairing_);
    kn.Rope(k_.data(), t, nkv, hd, c.kv_dim(), rope_.data(), rope_pairing_);
    kn.StoreKv(k_.data(), v_.data(), batch.slots, nkv, hd, kv.block_size(), kv.k_layer(l), kv.v_layer(l));
    clock.Mark(ForwardOp::kRope);
    attn.k_cache = kv.k_layer(l);
    attn.v_cache = kv.v_layer(l);
    kn.PagedAttention(pool, attn);
    clock.Mark(ForwardOp::kAttention);
    kn.MatMul(pool, attn_.data(), t, w.wo, nullptr, x_.data(), /*accumulate=*/true);
    clock.Mark(ForwardOp::kWo, w.wo.nbytes(), Flops(t, {&w.wo}));
    // MLP block.
    kn.RmsNorm(x_.data(), t, hidden, w.ffn_norm.as<float>(), eps, xn_.data());
    clock.Mark(ForwardOp::kNorm);
    const Kernels::MatMulOutput gate_up[] = {{w.w_gate, nullptr, gate_.data()}, {w.w_up, nullptr, up_.data()}};
    kn.MatMul(pool, xn_.data(), t, gate_up);
    clock.Mark(ForwardOp::kGateUp, w.w_gate.nbytes() + w.w_up.nbytes(), Flops(t, {&w.w_gate, &w.w_up}));
    kn.SiluMul(gate_.data(), up_.data(), gate_.data(), t * c.intermediate_size);
    clock.Mark(ForwardOp::kSiluMul);
    kn.MatMul(pool, gate_.data(), t, w.w_down, nullptr, x_.data(), /*accumulate=*/true);
    clock.Mark(ForwardOp::kDown, w.w_down.nbytes(), Flops(t, {&w.w_down}));
  }

  if (num_logits == 0) {
    clock.Finish(t);
    return absl::OkStatus();
  }
  for (int64_t i = 0; i < num_logits; ++i) {
    std::memcpy(last_.data() + i * hidden, x_.data() + batch.logits_idx[i] * hidden, hidden * sizeof(float));
  }
  kn.RmsNorm(last_.data(), num_logits, hidden, weights_.final_norm.as<float>(), eps, last_.data());
  clock.Mark(ForwardOp::kNorm);
  kn.MatMul(pool, last_.data(), num_logits, weights_.lm_head, nullptr, logits.data());
  clock.Mark(ForwardOp::kLmHead, weights_.lm_head.nbytes(), Flops(num_logits, {&weights_.lm_head}));
  clock.Finish(t);
  return absl::OkStatus();
}

}  // namespace pagellm
