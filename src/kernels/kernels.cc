// Kernels: ISA selection, the threaded drivers (MatMul, PagedAttention) and the ISA-independent
// kernels (RoPE set-up, embedding lookup, KV stores).
#include "src/kernels/kernels.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numbers>
#include <optional>
#include <string>

#include "src/base/aligned_buffer.h"
#include "src/base/check.h"
#include "src/base/half.h"
#include "src/kernels/kernels_internal.h"
#include "src/kernels/quantize.h"

namespace pagellm {

using kernels_internal::KernelTable;
using kernels_internal::MatMulArgs;
using kernels_internal::MatMulFn;

static_assert(static_cast<int>(DType::kIQ4_NLx16) + 1 == kernels_internal::kNumDTypes,
              "KernelTable::matmul is indexed by DType");

std::string_view KernelIsaName(KernelIsa isa) {
  switch (isa) {
    case KernelIsa::kScalar: return "scalar";
    case KernelIsa::kAvx2: return "avx2";
    case KernelIsa::kAvx512: return "avx512";
    case KernelIsa::kAvx512Bf16: return "avx512bf16";
  }
  return "?";
}

// Builds Kernels objects (the constructor is private so tables come only from here).
struct KernelsFactory {
  static Kernels Make(const KernelTable* table) { return Kernels(table); }
};

namespace {

constexpr int kNumIsas = 4;

bool CpuHas(KernelIsa isa) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  // F16C has no __builtin_cpu_supports name in every compiler; every AVX2 CPU has it.
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  switch (isa) {
    case KernelIsa::kScalar: return true;
    case KernelIsa::kAvx2: return avx2;
    case KernelIsa::kAvx512: return avx2 && avx512;
    case KernelIsa::kAvx512Bf16: return avx2 && avx512 && __builtin_cpu_supports("avx512bf16");
  }
  return false;
#else
  return isa == KernelIsa::kScalar;
#endif
}

bool CpuHasAvx512Vnni() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

// The AVX-512 table plus the MatMul of the GGUF block types (IsGgufBlockDType): vpdpbusd when the
// CPU has AVX512-VNNI, else the AVX2 int8 kernels (AVX-512 CPUs all have AVX2). Called only once
// the CPU is known to have AVX-512.
const KernelTable* Avx512WithQuant() {
  static const std::optional<KernelTable> table = []() -> std::optional<KernelTable> {
    const KernelTable* base = kernels_internal::Avx512Table();
    const KernelTable* avx2 = kernels_internal::Avx2Table();
    if (base == nullptr || avx2 == nullptr) return std::nullopt;
    KernelTable t = *base;
    for (int i = 0; i < kernels_internal::kNumDTypes; ++i) {
      const auto d = static_cast<DType>(i);
      if (!IsGgufBlockDType(d)) continue;
      const MatMulFn vnni = CpuHasAvx512Vnni() ? kernels_internal::Avx512VnniMatMul(d) : nullptr;
      t.matmul[i] = vnni != nullptr ? vnni : avx2->matmul[i];
      t.quantized_x[i] = true;
    }
    // The x16 repacks with rows in lanes (quantize.h): VNNI only; models repack at load when the
    // table supports them (LlamaModel::Create).
    if (CpuHasAvx512Vnni()) {
      for (int i = 0; i < kernels_internal::kNumDTypes; ++i) {
        const auto d = static_cast<DType>(i);
        if (!IsX16(d)) continue;
        t.matmul[i] = kernels_internal::Avx512VnniMatMul(d);
        t.quantized_x[i] = t.matmul[i] != nullptr;
      }
    }
    return t;
  }();
  return table ? &*table : nullptr;
}

const KernelTable* BuiltTable(KernelIsa isa) {
  switch (isa) {
    case KernelIsa::kScalar: return &kernels_internal::ScalarTable();
    case KernelIsa::kAvx2: return kernels_internal::Avx2Table();
    case KernelIsa::kAvx512: return Avx512WithQuant();
    case KernelIsa::kAvx512Bf16: {
      static const std::optional<KernelTable> table = []() -> std::optional<KernelTable> {
        const KernelTable* base = Avx512WithQuant();
        const MatMulFn bf16 = kernels_internal::Avx512Bf16MatMul();
        if (base == nullptr || bf16 == nullptr) return std::nullopt;
        KernelTable t = *base;
        t.isa = KernelIsa::kAvx512Bf16;
        t.matmul[static_cast<int>(DType::kBF16)] = bf16;
        t.bf16_x[static_cast<int>(DType::kBF16)] = true;
        t.round_row_to_bf16 = kernels_internal::Avx512Bf16RoundRow();
        return t;
      }();
      return table ? &*table : nullptr;
    }
  }
  return nullptr;
}

// Every usable table, built once; immutable afterwards.
const std::array<std::optional<Kernels>, kNumIsas>& AllKernels() {
  static const std::array<std::optional<Kernels>, kNumIsas> all = [] {
    std::array<std::optional<Kernels>, kNumIsas> a;
    for (int i = 0; i < kNumIsas; ++i) {
      const auto isa = static_cast<KernelIsa>(i);
      if (!CpuHas(isa)) continue;  // first: ISA files may only be entered on a capable CPU
      if (const KernelTable* t = BuiltTable(isa)) a[i] = KernelsFactory::Make(t);
    }
    return a;
  }();
  return all;
}

}  // namespace

const Kernels* Kernels::ForIsa(KernelIsa isa) {
  const auto& all = AllKernels();
  const int i = static_cast<int>(isa);
  return (i >= 0 && i < kNumIsas && all[i]) ? &*all[i] : nullptr;
}

std::vector<KernelIsa> Kernels::Available() {
  std::vector<KernelIsa> out;
  for (int i = 0; i < kNumIsas; ++i) {
    if (AllKernels()[i]) out.push_back(static_cast<KernelIsa>(i));
  }
  return out;
}

const Kernels& Kernels::Default() {
  static const Kernels* chosen = [] {
    if (const char* env = std::getenv("PAGELLM_KERNELS"); env != nullptr && *env != '\0') {
      for (int i = 0; i < kNumIsas; ++i) {
        const auto isa = static_cast<KernelIsa>(i);
        if (KernelIsaName(isa) == env) {
          if (const Kernels* k = ForIsa(isa)) return k;
        }
      }
      std::fprintf(stderr, "PAGELLM_KERNELS=%s is unknown or unsupported on this CPU (scalar, avx2, avx512, "
                   "avx512bf16); using the default\n", env);
    }
    for (KernelIsa isa : {KernelIsa::kAvx512Bf16, KernelIsa::kAvx512, KernelIsa::kAvx2}) {
      if (const Kernels* k = ForIsa(isa)) return k;
    }
    if (const Kernels* k = ForIsa(KernelIsa::kScalar)) return k;
    CHECK_MSG(false, "the scalar kernels are always available");
    return static_cast<const Kernels*>(nullptr);
  }();
  return *chosen;
}

KernelIsa Kernels::isa() const { return table_->isa; }

bool Kernels::SupportsWeights(DType dtype) const {
  const int i = static_cast<int>(dtype);
  return i >= 0 && i < kernels_internal::kNumDTypes && table_->matmul[i] != nullptr;
}

void kernels_internal::QuantizeRowQ8(const float* x, int64_t k, int64_t padded_k, int8_t* q, float* d,
                                     int32_t* sums) {
  QuantizeActivationRow(x, k, q, d);
  std::fill(q + k, q + padded_k, int8_t{0});  // padding blocks: zero values, zero scale
  std::fill(d + k / 32, d + padded_k / 32, 0.0f);
  for (int64_t g = 0; g < padded_k / 4; ++g) sums[g] = -128 * (q[4 * g] + q[4 * g + 1] + q[4 * g + 2] + q[4 * g + 3]);
}

// --- MatMul driver -------------------------------------------------------------------------
// Rows of x are cut into blocks of kMBlock (x block stays in L2 while a thread sweeps its weight
// rows); weight rows into chunks, a multiple of kNAlign, sized for about 4 tasks per thread
// (over all outputs of a multi-output call), or with one block of x rows, in the guided pieces of
// RunGuidedSplit.
// Neither cut touches k, so the split never changes a result (kernels.h, batch invariance).
namespace {
constexpr int64_t kMBlock = 64;
constexpr int64_t kNAlign = 16;  // the x16 kernels take whole 16-row groups
constexpr int64_t kMinNChunk = 16;
constexpr int64_t kMinParallelMacs = int64_t{1} << 16;

// Runs fn(i) for each of the m rows (of k values) of x: on the calling thread when they are too
// little work to wake the pool for.
template <class Fn>
void ForEachRow(ThreadPool& pool, int64_t m, int64_t k, const Fn& fn) {
  if (m * k < kMinParallelMacs) {
    for (int64_t i = 0; i < m; ++i) fn(i);
  } else {
    pool.Run(m, fn);
  }
}

int64_t RoundUp(int64_t v, int64_t align) { return (v + align - 1) / align * align; }

// One MatMul kernel call: output `plan`'s rows [n_lo, n_hi) for rows [0, m) of x.
struct MatMulPiece {
  int32_t plan;
  int64_t n_lo, n_hi;
};

// The split for one block of x rows (batch-1 decode and small batches), where streaming the
// weights once is all the work: each thread first takes one large piece (a long sequential read
// the hardware prefetchers ramp up on once), then the last kGuidedTail of the rows go in small
// pieces so the threads finish together. Equal chunks leave a thread idle for half a chunk on
// average at the end of every MatMul. Pieces never cross outputs and keep kNAlign-row groups.
// False (caller splits evenly) when the pieces would not fit the fixed task list.
template <class Plan>
bool RunGuidedSplit(ThreadPool& pool, int64_t m, std::span<const Plan> plans, int64_t total_n) {
  constexpr double kGuidedTail = 0.2;
  constexpr int kMaxPieces = 128;
  const int64_t threads = pool.num_threads();
  const int64_t big = RoundUp(
      std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(total_n) * (1 - kGuidedTail) / threads)), kNAlign);
  const int64_t small = RoundUp(
      std::max<int64_t>(kMinNChunk, static_cast<int64_t>(static_cast<double>(total_n) * kGuidedTail / (8 * threads))),
      kNAlign);
  std::array<MatMulPiece, kMaxPieces> pieces;
  int num_pieces = 0;
  for (size_t o = 0; o < plans.size(); ++o) {
    for (int64_t lo = 0; lo < plans[o].args.n;) {
      if (num_pieces == kMaxPieces) return false;
      const int64_t size = num_pieces < threads ? big : small;
      const int64_t hi = std::min(plans[o].args.n, lo + size);
      pieces[num_pieces++] = {static_cast<int32_t>(o), lo, hi};
      lo = hi;
    }
  }
  pool.Run(num_pieces, [&](int64_t t) {
    const MatMulPiece& piece = pieces[t];
    const Plan& p = plans[piece.plan];
    p.fn(p.args, 0, m, piece.n_lo, piece.n_hi);
  });
  return true;
}
}  // namespace

void Kernels::MatMul(ThreadPool& pool, const float* x, int64_t m, const TensorView& w,
                     const float* bias, float* y, bool accumulate) const {
  const MatMulOutput out{w, bias, y, accumulate};
  MatMul(pool, x, m, {&out, 1});
}

void Kernels::MatMul(ThreadPool& pool, const float* x, int64_t m,
                     std::span<const MatMulOutput> outputs) const {
  struct Plan {
    MatMulArgs args;
    MatMulFn fn = nullptr;
    int64_t n_chunk = 0, n_chunks = 0, first_task = 0;
  };
  // Precondition: a few outputs sharing x's width (the model's q/k/v or gate/up).
  CHECK(outputs.size() <= static_cast<size_t>(kMaxMatMulOutputs));
  std::array<Plan, kMaxMatMulOutputs> plans;
  int64_t total_n = 0, macs = 0;
  bool quantize_x = false, bf16_x = false;
  for (size_t o = 0; o < outputs.size(); ++o) {
    const TensorView& w = outputs[o].w;
    // Precondition: 2-D weights of dtypes this table supports (checked by the model at load),
    // all with the same k.
    CHECK(w.ndim == 2 && SupportsWeights(w.dtype) && w.shape[1] == outputs[0].w.shape[1]);
    // Precondition: repacked weights come in whole 16-row groups (quantize.h).
    CHECK(!IsX16(w.dtype) || w.shape[0] % kQ4x16Rows == 0);
    MatMulArgs& a = plans[o].args;
    a.x = x;
    a.w = static_cast<const uint8_t*>(w.data);
    a.w_row_bytes = w.row_bytes();
    a.bias = outputs[o].bias;
    a.y = outputs[o].y;
    a.m = m;
    a.n = w.shape[0];
    a.k = w.shape[1];
    a.accumulate = outputs[o].accumulate;
    plans[o].fn = table_->matmul[static_cast<int>(w.dtype)];
    if (table_->quantized_x[static_cast<int>(w.dtype)]) {
      // Precondition: whole blocks (weights are checked at load).
      CHECK(a.k % 32 == 0);
      quantize_x = true;
    }
    bf16_x = bf16_x || table_->bf16_x[static_cast<int>(w.dtype)];
    total_n += a.n;
    macs += m * a.n * a.k;
  }
  if (m <= 0 || total_n <= 0) return;
  const int64_t k = plans[0].args.k;
  if (quantize_x) {
    // Int8 kernels read x quantized per row and 32-block, made here once for every output and
    // tile; a row's quantization depends on that row alone. Buffers are per calling thread.
    thread_local std::vector<int8_t> xq;
    thread_local std::vector<float> xd;
    thread_local std::vector<int32_t> xs;
    thread_local std::vector<int32_t> xbs;
    const int64_t stride = RoundUp(k, kernels_internal::kXqAlign);
    if (xq.size() < static_cast<size_t>(m * stride)) {
      xq.resize(static_cast<size_t>(m * stride));
      xd.resize(static_cast<size_t>(m * stride / 32));
      xs.resize(static_cast<size_t>(m * stride / 4));
      xbs.resize(static_cast<size_t>(m * stride / 32));
    }
    // Plain pointers: inside a lambda run by pool threads, the names would mean their own
    // thread_local vectors.
    int8_t* const xq_data = xq.data();
    float* const xd_data = xd.data();
    int32_t* const xs_data = xs.data();
    int32_t* const xbs_data = xbs.data();
    const auto quantize = table_->quantize_row_q8 != nullptr ? table_->quantize_row_q8 : &kernels_internal::QuantizeRowQ8;
    auto quantize_row = [&](int64_t i) {
      int32_t* const sums = xs_data + i * (stride / 4);
      quantize(x + i * k, k, stride, xq_data + i * stride, xd_data + i * (stride / 32), sums);
      // Per 32-block (the start value of the x16 kernels, read once per block and 16-row group).
      for (int64_t b = 0; b < stride / 32; ++b) {
        int32_t s = 0;
        for (int t = 0; t < 8; ++t) s += sums[8 * b + t];
        xbs_data[i * (stride / 32) + b] = s;
      }
    };
    ForEachRow(pool, m, k, quantize_row);
    for (size_t o = 0; o < outputs.size(); ++o) {
      plans[o].args.xq = xq_data;
      plans[o].args.xd = xd_data;
      plans[o].args.xs = xs_data;
      plans[o].args.xbs = xbs_data;
      plans[o].args.xq_stride = stride;
    }
  }
  if (bf16_x) {
    // vdpbf16ps kernels read x rounded to bf16, made here once for every output and tile (per
    // calling thread, like the int8 buffers above); each row's rounding depends on that row alone.
    thread_local AlignedBuffer<uint16_t> xb;
    const int64_t stride = RoundUp(k, kernels_internal::kXbAlign);
    xb.EnsureSize(static_cast<size_t>(m * stride));
    uint16_t* const xb_data = xb.data();
    auto round_row = [&](int64_t i) { table_->round_row_to_bf16(x + i * k, k, stride, xb_data + i * stride); };
    ForEachRow(pool, m, k, round_row);
    for (size_t o = 0; o < outputs.size(); ++o) {
      plans[o].args.xb = xb_data;
      plans[o].args.xb_stride = stride;
    }
  }
  if (macs < kMinParallelMacs) {  // too little work to wake the pool for
    for (size_t o = 0; o < outputs.size(); ++o) plans[o].fn(plans[o].args, 0, m, 0, plans[o].args.n);
    return;
  }
  const int64_t m_blocks = (m + kMBlock - 1) / kMBlock;
  if (m_blocks == 1 && RunGuidedSplit(pool, m, std::span<const Plan>(plans.data(), outputs.size()), total_n)) return;
  const int64_t want_n_tasks = std::max<int64_t>(1, (4 * pool.num_threads() + m_blocks - 1) / m_blocks);
  int64_t chunk = std::max(kMinNChunk, (total_n + want_n_tasks - 1) / want_n_tasks);
  chunk = RoundUp(chunk, kNAlign);
  int64_t num_tasks = 0;
  for (size_t o = 0; o < outputs.size(); ++o) {
    Plan& p = plans[o];
    p.n_chunk = chunk;
    p.n_chunks = (p.args.n + chunk - 1) / chunk;
    p.first_task = num_tasks;
    num_tasks += m_blocks * p.n_chunks;
  }
  pool.Run(num_tasks, [&](int64_t task) {
    size_t o = 0;
    while (o + 1 < outputs.size() && task >= plans[o + 1].first_task) ++o;
    const Plan& p = plans[o];
    const int64_t local = task - p.first_task;
    const int64_t mb = local / p.n_chunks;
    const int64_t nc = local % p.n_chunks;
    p.fn(p.args, mb * kMBlock, std::min(m, (mb + 1) * kMBlock), nc * p.n_chunk,
         std::min(p.args.n, (nc + 1) * p.n_chunk));
  });
}

void Kernels::RmsNorm(const float* x, int64_t m, int64_t d, const float* weight, float eps,
                      float* out) const {
  if (m <= 0 || d <= 0) return;
  table_->rms_norm(x, m, d, weight, eps, out);
}

void Kernels::Rope(float* x, int64_t m, int64_t num_heads, int64_t head_dim, int64_t row_stride,
                   const float* table, RopePairing pairing) const {
  // Precondition: even head_dim, heads fit in a row.
  DCHECK(head_dim % 2 == 0 && num_heads * head_dim <= row_stride);
  if (m <= 0) return;
  table_->rope(x, m, num_heads, head_dim, row_stride, table, pairing);
}

void Kernels::SiluMul(const float* gate, const float* up, float* out, int64_t n) const {
  if (n > 0) table_->silu_mul(gate, up, out, n);
}

void Kernels::Softmax(float* x, int64_t m, int64_t n) const {
  if (m > 0 && n > 0) table_->softmax(x, m, n);
}

void Kernels::PagedAttention(ThreadPool& pool, const PagedAttentionArgs& a) const {
  // Precondition: GQA grouping and head size within the kernels' fixed buffers.
  CHECK(a.num_kv_heads > 0 && a.num_heads % a.num_kv_heads == 0);
  CHECK(a.head_dim > 0 && a.head_dim <= kMaxKernelHeadDim && a.block_size > 0);
  DCHECK(static_cast<int64_t>(a.positions.size()) >= a.num_tokens);
  DCHECK(static_cast<int64_t>(a.seq_idx.size()) >= a.num_tokens);
  if (a.num_tokens <= 0) return;
  const int64_t nkv = a.num_kv_heads;
  int64_t keys = 0;  // work estimate: (query token, key) pairs
  for (int64_t t = 0; t < a.num_tokens; ++t) keys += a.positions[t] + 1;
  if (keys * a.num_heads * a.head_dim < kMinParallelMacs) {
    for (int64_t task = 0; task < a.num_tokens * nkv; ++task) table_->attention(a, task / nkv, task % nkv);
    return;
  }
  pool.Run(a.num_tokens * nkv,
           [&](int64_t task) { table_->attention(a, task / nkv, task % nkv); });
}

// --- ISA-independent kernels ---------------------------------------------------------------

std::vector<double> RopeInverseFrequencies(const RopeParams& p) {
  // Precondition: a positive even head size (ModelConfig::Validate).
  CHECK(p.head_dim > 0 && p.head_dim % 2 == 0);
  const int64_t half = p.head_dim / 2;
  std::vector<double> inv(half);
  const bool divisors = !p.freq_divisors.empty();
  // Precondition: rope_freqs has one divisor per frequency (checked when weights are validated).
  CHECK(!divisors || static_cast<int64_t>(p.freq_divisors.size()) == half);
  for (int64_t i = 0; i < half; ++i) {
    double f = std::pow(p.theta, -2.0 * static_cast<double>(i) / static_cast<double>(p.head_dim));
    if (divisors) {
      f /= static_cast<double>(p.freq_divisors[i]);
    } else if (p.scaling == RopeParams::Scaling::kLlama3) {
      // Hugging Face _compute_llama3_parameters: long wavelengths are slowed down by `factor`,
      // short ones kept, the band in between interpolated.
      const double old_len = static_cast<double>(p.original_max_position_embeddings);
      const double low_wavelen = old_len / p.low_freq_factor;
      const double high_wavelen = old_len / p.high_freq_factor;
      const double wavelen = 2.0 * std::numbers::pi / f;
      if (wavelen > low_wavelen) {
        f /= p.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth =
            (old_len / wavelen - p.low_freq_factor) / (p.high_freq_factor - p.low_freq_factor);
        f = (1.0 - smooth) * f / p.factor + smooth * f;
      }
    }
    if (p.scaling == RopeParams::Scaling::kLinear) f /= p.factor;
    inv[i] = f;
  }
  return inv;
}

void Kernels::BuildRopeTable(std::span<const int32_t> positions, std::span<const double> inv_freq,
                             RopePairing pairing, float* table) const {
  const int64_t half = static_cast<int64_t>(inv_freq.size());
  const int64_t hd = 2 * half;
  for (size_t t = 0; t < positions.size(); ++t) {
    float* c = table + static_cast<int64_t>(t) * 2 * hd;
    float* s = c + hd;
    const double pos = static_cast<double>(positions[t]);
    for (int64_t i = 0; i < half; ++i) {
      const double angle = pos * inv_freq[i];
      const float cv = static_cast<float>(std::cos(angle));
      const float sv = static_cast<float>(std::sin(angle));
      // out[e] = x[e] * c[e] + x[partner(e)] * s[e]; the first of a pair gets -sin.
      const int64_t e0 = pairing == RopePairing::kNeox ? i : 2 * i;
      const int64_t e1 = pairing == RopePairing::kNeox ? i + half : 2 * i + 1;
      c[e0] = cv;
      c[e1] = cv;
      s[e0] = -sv;
      s[e1] = sv;
    }
  }
}

void Kernels::EmbeddingLookup(const TensorView& table, std::span<const TokenId> tokens,
                              float* out) const {
  // Precondition: a 2-D table of F32/F16/BF16 or a GGUF block type; tokens validated by the caller.
  CHECK(table.ndim == 2);
  const int64_t d = table.shape[1];
  for (size_t i = 0; i < tokens.size(); ++i) {
    DCHECK(tokens[i] >= 0 && tokens[i] < table.shape[0]);
    const uint8_t* row = table.row(tokens[i]);
    float* o = out + static_cast<int64_t>(i) * d;
    switch (table.dtype) {
      case DType::kF32:
        std::memcpy(o, row, static_cast<size_t>(d) * sizeof(float));
        break;
      case DType::kF16: {
        const auto* h = reinterpret_cast<const uint16_t*>(row);
        for (int64_t j = 0; j < d; ++j) o[j] = F16ToF32(h[j]);
        break;
      }
      case DType::kBF16: {
        const auto* h = reinterpret_cast<const uint16_t*>(row);
        for (int64_t j = 0; j < d; ++j) o[j] = Bf16ToF32(h[j]);
        break;
      }
      case DType::kQ8_0:
      case DType::kQ4_0:
      case DType::kQ4_1:
      case DType::kQ5_0:
      case DType::kQ5_1:
      case DType::kIQ4_NL:
      case DType::kQ2_K:
      case DType::kQ3_K:
      case DType::kQ4_K:
      case DType::kQ5_K:
      case DType::kQ6_K:
        DequantizeRow(table.dtype, row, d, o);  // d * q in f32, exact (mins, K-quants: ggml's f32 math)
        break;
      default:
        CHECK_MSG(false, "EmbeddingLookup: unsupported dtype (checked at model load)");
    }
  }
}

void Kernels::StoreKv(const float* k, const float* v, std::span<const int64_t> slots,
                      int64_t num_kv_heads, int64_t head_dim, int64_t block_size, float* k_cache,
                      float* v_cache) const {
  const int64_t kv_dim = num_kv_heads * head_dim;
  const size_t head_bytes = static_cast<size_t>(head_dim) * sizeof(float);
  for (size_t i = 0; i < slots.size(); ++i) {
    const int64_t block = slots[i] / block_size;
    const int64_t offset = slots[i] % block_size;
    for (int64_t h = 0; h < num_kv_heads; ++h) {
      const int64_t dst = ((block * num_kv_heads + h) * block_size + offset) * head_dim;
      const int64_t src = static_cast<int64_t>(i) * kv_dim + h * head_dim;
      std::memcpy(k_cache + dst, k + src, head_bytes);
      std::memcpy(v_cache + dst, v + src, head_bytes);
    }
  }
}

}  // namespace pagellm
