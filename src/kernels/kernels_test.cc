// Tests for kernels.h: every SIMD kernel against the scalar reference (odd sizes, misaligned
// pointers, every ISA of this machine), and MatMul batch invariance (bitwise, any M, any threads).
#include "src/kernels/isa_testutil.h"
#include "src/kernels/kernels.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "src/base/half.h"
#include "src/kernels/kernels_internal.h"
#include "src/kernels/quantize.h"

namespace pagellm {
namespace {

// A float buffer whose data() is deliberately not vector-aligned (offset by one float).
class Floats {
 public:
  explicit Floats(int64_t n) : storage_(static_cast<size_t>(n) + 17) {}
  float* data() { return storage_.data() + 1; }
  float& operator[](int64_t i) { return data()[i]; }
 private:
  std::vector<float> storage_;
};

void FillNormal(float* p, int64_t n, std::mt19937& rng, float stddev = 1.0f) {
  std::normal_distribution<float> dist(0.0f, stddev);
  for (int64_t i = 0; i < n; ++i) p[i] = dist(rng);
}

// A [n, k] weight matrix in `dtype`, stored at a misaligned address, plus its exact f32 values.
struct Weights {
  std::vector<uint8_t> storage;
  std::vector<float> values;  // [n, k], exactly what the stored dtype represents
  TensorView view;
  // The same weights in a dtype every table supports (Q4_0 for Q4_0x16; else `view`).
  std::vector<uint8_t> ref_storage;
  TensorView ref_view;
};

bool IsBlockType(DType dtype) {
  return dtype == DType::kQ8_0 || dtype == DType::kQ4_0 || dtype == DType::kQ4_0x16 || dtype == DType::kQ8_0x16;
}

Weights MakeWeightsAs(DType dtype, int64_t n, int64_t k, std::mt19937& rng);

// n rounded up to whole 16-row groups for Q4_0x16.
int64_t RowsFor(DType dtype, int64_t n) { return IsX16(dtype) ? (n + 15) / 16 * 16 : n; }

Weights MakeWeights(DType dtype, int64_t n, int64_t k, std::mt19937& rng) {
  if (!IsX16(dtype)) {
    Weights w = MakeWeightsAs(dtype, n, k, rng);
    w.ref_view = w.view;
    return w;
  }
  // Q4_0 / Q8_0 weights repacked (at an odd address, like the others); the reference keeps them
  // as they were.
  const DType plain = dtype == DType::kQ4_0x16 ? DType::kQ4_0 : DType::kQ8_0;
  Weights w = MakeWeightsAs(plain, n, k, rng);
  w.ref_storage = w.storage;
  w.ref_view = w.view;
  w.ref_view.data = w.ref_storage.data() + (static_cast<const uint8_t*>(w.view.data) - w.storage.data());
  const auto* src = static_cast<const uint8_t*>(w.ref_view.data);
  auto* dst = const_cast<uint8_t*>(static_cast<const uint8_t*>(w.view.data));
  if (plain == DType::kQ4_0) {
    RepackQ4_0x16(src, n, k, dst);
  } else {
    RepackQ8_0x16(src, n, k, dst);
  }
  w.view.dtype = dtype;
  return w;
}

Weights MakeWeightsAs(DType dtype, int64_t n, int64_t k, std::mt19937& rng) {
  Weights w;
  w.values.resize(static_cast<size_t>(n * k));
  FillNormal(w.values.data(), n * k, rng, 1.0f / std::sqrt(static_cast<float>(k)));
  if (IsBlockType(dtype)) {
    // Quantized rows at an odd address (the kernels' loads must not need any alignment); the
    // values are what the blocks hold (exactly representable: d * q).
    const uint64_t row_bytes = *BytesFor(dtype, k);
    w.storage.resize(n * row_bytes + 64 + 1);
    uint8_t* base = w.storage.data() + ((64 - reinterpret_cast<uintptr_t>(w.storage.data()) % 64) % 64) + 1;
    for (int64_t j = 0; j < n; ++j) {
      QuantizeRow(dtype, w.values.data() + j * k, k, base + j * row_bytes);
      DequantizeRow(dtype, base + j * row_bytes, k, w.values.data() + j * k);
    }
    w.view = MakeView(dtype, base, {n, k});
    return w;
  }
  const size_t elem = dtype == DType::kF32 ? 4 : 2;
  const size_t offset = elem;  // element-aligned, never vector-aligned
  w.storage.resize(static_cast<size_t>(n * k) * elem + 64 + offset);
  uint8_t* base = w.storage.data() + ((64 - reinterpret_cast<uintptr_t>(w.storage.data()) % 64) % 64) + offset;
  for (int64_t i = 0; i < n * k; ++i) {
    float& v = w.values[i];
    if (dtype == DType::kF32) {
      std::memcpy(base + 4 * i, &v, 4);
    } else {
      const uint16_t h = dtype == DType::kF16 ? F32ToF16(v) : F32ToBf16(v);
      v = dtype == DType::kF16 ? F16ToF32(h) : Bf16ToF32(h);
      std::memcpy(base + 2 * i, &h, 2);
    }
  }
  w.view = MakeView(dtype, base, {n, k});
  return w;
}

const Kernels& Scalar() { return *Kernels::ForIsa(KernelIsa::kScalar); }

class KernelsIsaTest : public testing::IsaTest {};

TEST(KernelsTest, ScalarAlwaysAvailableAndDefaultIsUsable) {
  const std::vector<KernelIsa> isas = Kernels::Available();
  ASSERT_FALSE(isas.empty());
  EXPECT_EQ(isas.front(), KernelIsa::kScalar);
  std::string names;
  for (KernelIsa isa : isas) names += std::string(KernelIsaName(isa)) + " ";
  std::printf("available kernels: %s; default: %s\n", names.c_str(),
              std::string(Kernels::Default().name()).c_str());
  EXPECT_NE(Kernels::ForIsa(Kernels::Default().isa()), nullptr);
}

TEST(KernelsTest, ScalarMatMulHandComputed) {
  // x = [[1, 2, 3], [-1, 0, 2]], W = [[1, 0, -1], [0.5, 0.5, 0.5]], bias = [10, 20]
  const float x[] = {1, 2, 3, -1, 0, 2};
  const float w[] = {1, 0, -1, 0.5f, 0.5f, 0.5f};
  const float bias[] = {10, 20};
  float y[4];
  ThreadPool pool(1);
  Scalar().MatMul(pool, x, 2, MakeView(DType::kF32, w, {2, 3}), bias, y);
  EXPECT_EQ(y[0], 1 - 3 + 10.0f);
  EXPECT_EQ(y[1], 3 + 20.0f);
  EXPECT_EQ(y[2], -1 - 2 + 10.0f);
  EXPECT_EQ(y[3], 0.5f + 20.0f);
  Scalar().MatMul(pool, x, 2, MakeView(DType::kF32, w, {2, 3}), nullptr, y, /*accumulate=*/true);
  EXPECT_EQ(y[0], 2 * (1 - 3) + 10.0f);
  EXPECT_EQ(y[3], 2 * 0.5f + 20.0f);
}

struct MatMulShape {
  int64_t m, k, n;
};

TEST_P(KernelsIsaTest, MatMulMatchesScalar) {
  const MatMulShape shapes[] = {{1, 1, 1},   {1, 7, 5},    {1, 16, 16},   {1, 33, 17}, {2, 31, 9},
                                {3, 100, 37}, {5, 129, 67}, {4, 64, 64},   {7, 257, 13}, {17, 896, 40},
                                {67, 70, 23}, {1, 2048, 9}, {130, 48, 19}, {9, 1000, 71}};
  ThreadPool pool(2);
  std::mt19937 rng(1234);
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    double worst_ratio = 0.0;
    double max_abs = 0.0;
    for (const MatMulShape& s : shapes) {
      for (bool use_bias : {false, true}) {
        for (bool accumulate : {false, true}) {
          SCOPED_TRACE(::testing::Message() << DTypeName(dtype) << " m=" << s.m << " k=" << s.k
                                          << " n=" << s.n << " bias=" << use_bias << " acc=" << accumulate);
          const Weights w = MakeWeights(dtype, s.n, s.k, rng);
          Floats x(s.m * s.k), bias(s.n), y(s.m * s.n), ref(s.m * s.n);
          FillNormal(x.data(), s.m * s.k, rng);
          FillNormal(bias.data(), s.n, rng);
          FillNormal(y.data(), s.m * s.n, rng);
          std::memcpy(ref.data(), y.data(), sizeof(float) * s.m * s.n);
          const float* b = use_bias ? bias.data() : nullptr;
          K().MatMul(pool, x.data(), s.m, w.view, b, y.data(), accumulate);
          Scalar().MatMul(pool, x.data(), s.m, w.ref_view, b, ref.data(), accumulate);
          // Error bound: f32 accumulation over k terms (~k * 2^-24 of sum |x w|, taken as
          // (k + 16) * 2^-23), plus bf16 rounding of x (2^-9 relative) for vdpbf16ps, plus the
          // final additions.
          const double x_rounding = (GetParam() == KernelIsa::kAvx512Bf16 && dtype == DType::kBF16) ? 0x1p-8 : 0.0;
          for (int64_t i = 0; i < s.m; ++i) {
            for (int64_t j = 0; j < s.n; ++j) {
              double mag = 0.0;
              for (int64_t kk = 0; kk < s.k; ++kk) mag += std::fabs(double{x[i * s.k + kk]} * w.values[j * s.k + kk]);
              const double r = ref[i * s.n + j];
              const double bound = ((s.k + 16) * 0x1p-23 + x_rounding) * mag + 0x1p-22 * (std::fabs(r) + 1.0);
              const double err = std::fabs(y[i * s.n + j] - r);
              ASSERT_LE(err, bound) << "at (" << i << ", " << j << ")";
              worst_ratio = std::max(worst_ratio, err / bound);
              max_abs = std::max(max_abs, err);
            }
          }
        }
      }
    }
    std::printf("[%s] MatMul %s vs scalar: max abs diff %.3g, worst error / bound %.3f\n",
                std::string(K().name()).c_str(), std::string(DTypeName(dtype)).c_str(), max_abs, worst_ratio);
  }
}

// The bits of a row of y depend only on that row of x: not on M, the other rows, the row's index
// in the batch, or the thread count.
TEST_P(KernelsIsaTest, MatMulIsBatchInvariant) {
  std::mt19937 rng(99);
  ThreadPool pool1(1), pool2(2), pool3(3);
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_0x16,
                      DType::kQ8_0x16}) {
    if (!K().SupportsWeights(dtype)) continue;  // Q4_0x16 / Q8_0x16: VNNI tables only
    // Block types need whole blocks: 9 (odd), 28 and 2 blocks.
    const bool blocks = IsBlockType(dtype);
    for (auto [k, n] : {std::pair<int64_t, int64_t>{blocks ? 288 : 301, 77}, {896, 130}, {64, 9}}) {
      n = RowsFor(dtype, n);
      SCOPED_TRACE(::testing::Message() << DTypeName(dtype) << " k=" << k << " n=" << n);
      const Weights w = MakeWeights(dtype, n, k, rng);
      constexpr int64_t kM = 150;  // > one 64-row block
      Floats x(kM * k), bias(n), full(kM * n);
      FillNormal(x.data(), kM * k, rng);
      FillNormal(bias.data(), n, rng);
      K().MatMul(pool1, x.data(), kM, w.view, bias.data(), full.data());
      for (ThreadPool* pool : {&pool1, &pool2, &pool3}) {
        // Every row alone (GEMV), and windows of several sizes starting at odd rows.
        for (int64_t i = 0; i < kM; i += 7) {
          std::vector<float> one(n);
          K().MatMul(*pool, x.data() + i * k, 1, w.view, bias.data(), one.data());
          ASSERT_EQ(std::memcmp(one.data(), full.data() + i * n, n * sizeof(float)), 0)
              << "row " << i << " alone, threads " << pool->num_threads();
        }
        for (int64_t rows : {2, 3, 5, 16, 65, 149}) {
          const int64_t start = std::min<int64_t>(kM - rows, 1 + rows % 7);
          std::vector<float> part(rows * n);
          K().MatMul(*pool, x.data() + start * k, rows, w.view, bias.data(), part.data());
          ASSERT_EQ(std::memcmp(part.data(), full.data() + start * n, rows * n * sizeof(float)), 0)
              << rows << " rows from " << start << ", threads " << pool->num_threads();
        }
      }
    }
  }
}

// A multi-output call (q/k/v style) gives each output the bits of its own MatMul call.
TEST_P(KernelsIsaTest, MultiOutputMatMulEqualsSeparateCalls) {
  std::mt19937 rng(5);
  ThreadPool pool1(1), pool2(2), pool3(3);
  for (int64_t m : {1, 3, 70}) {
    const int64_t k = 224;  // whole 32-blocks (7)
    // m = 3: one output quantized (x gets quantized once and shared with the others).
    const DType qtype = m == 3 ? DType::kQ4_0 : m == 70 ? DType::kQ8_0 : DType::kBF16;
    const Weights wq = MakeWeights(qtype, 96, k, rng), wk = MakeWeights(m == 70 ? DType::kQ4_0 : DType::kF16, 24, k, rng),
                  wv = MakeWeights(DType::kF32, 40, k, rng);
    Floats x(m * k), bias(96), q(m * 96), kk(m * 24), v(m * 40);
    FillNormal(x.data(), m * k, rng);
    FillNormal(bias.data(), 96, rng);
    FillNormal(v.data(), m * 40, rng);
    std::vector<float> v_start(v.data(), v.data() + m * 40);
    std::vector<float> q_ref(m * 96), k_ref(m * 24), v_ref(v_start);
    K().MatMul(pool1, x.data(), m, wq.view, bias.data(), q_ref.data());
    K().MatMul(pool1, x.data(), m, wk.view, nullptr, k_ref.data());
    K().MatMul(pool1, x.data(), m, wv.view, nullptr, v_ref.data(), /*accumulate=*/true);
    for (ThreadPool* pool : {&pool1, &pool2, &pool3}) {
      std::memcpy(v.data(), v_start.data(), m * 40 * sizeof(float));
      const Kernels::MatMulOutput outs[] = {{wq.view, bias.data(), q.data()},
                                            {wk.view, nullptr, kk.data()},
                                            {wv.view, nullptr, v.data(), true}};
      K().MatMul(*pool, x.data(), m, outs);
      ASSERT_EQ(std::memcmp(q.data(), q_ref.data(), m * 96 * sizeof(float)), 0) << "m=" << m;
      ASSERT_EQ(std::memcmp(kk.data(), k_ref.data(), m * 24 * sizeof(float)), 0) << "m=" << m;
      ASSERT_EQ(std::memcmp(v.data(), v_ref.data(), m * 40 * sizeof(float)), 0) << "m=" << m;
    }
  }
}

// Q8_0 / Q4_0 MatMul. The scalar table is the reference: exact weights (d * q), f32 x, double
// accumulation. SIMD tables quantize x per row and 32-block (QuantizeActivationRow), so they are
// checked twice:
//   tight: against the same formula evaluated in double from the same quantized x,
//          y = sum_b dw_b * dx_b * sum_t qw_t qx_t: only f32 rounding remains (the int dots are
//          exact; the scale product, the FMA per block pair and the reduction round);
//   loose: against the scalar reference, allowing the activation rounding |x - dx qx| <= dx / 2
//          per element, i.e. sum_b dx_b / 2 * sum_{t in b} |w_t| per output, plus f32 rounding.
TEST_P(KernelsIsaTest, QuantizedMatMulMatchesReferences) {
  const MatMulShape shapes[] = {{1, 32, 1},   {1, 64, 5},   {1, 96, 17},   {2, 160, 9},  {3, 224, 37},
                                {5, 896, 67}, {4, 64, 64},  {7, 288, 13},  {17, 896, 40}, {67, 96, 23},
                                {1, 2080, 9}, {130, 64, 19}, {9, 992, 71}};
  ThreadPool pool(2);
  std::mt19937 rng(4321);
  const bool quantizes_x = GetParam() != KernelIsa::kScalar;
  for (DType dtype : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_0x16, DType::kQ8_0x16}) {
    if (!K().SupportsWeights(dtype)) continue;  // Q4_0x16 / Q8_0x16: VNNI tables only
    double worst_tight = 0.0, worst_loose = 0.0, max_abs = 0.0;
    for (MatMulShape s : shapes) {
      s.n = RowsFor(dtype, s.n);
      for (bool use_bias : {false, true}) {
        for (bool accumulate : {false, true}) {
          SCOPED_TRACE(::testing::Message() << DTypeName(dtype) << " m=" << s.m << " k=" << s.k
                                          << " n=" << s.n << " bias=" << use_bias << " acc=" << accumulate);
          const Weights w = MakeWeights(dtype, s.n, s.k, rng);
          Floats x(s.m * s.k), bias(s.n), y(s.m * s.n), ref(s.m * s.n);
          FillNormal(x.data(), s.m * s.k, rng);
          FillNormal(bias.data(), s.n, rng);
          FillNormal(y.data(), s.m * s.n, rng);
          std::vector<float> y0(y.data(), y.data() + s.m * s.n);
          std::memcpy(ref.data(), y.data(), sizeof(float) * s.m * s.n);
          const float* b = use_bias ? bias.data() : nullptr;
          K().MatMul(pool, x.data(), s.m, w.view, b, y.data(), accumulate);
          Scalar().MatMul(pool, x.data(), s.m, w.ref_view, b, ref.data(), accumulate);
          const int64_t nb = s.k / kQuantBlock;
          std::vector<int8_t> qx(s.k);
          std::vector<float> dx(nb);
          for (int64_t i = 0; i < s.m; ++i) {
            const float* xr = x.data() + i * s.k;
            QuantizeActivationRow(xr, s.k, qx.data(), dx.data());
            for (int64_t j = 0; j < s.n; ++j) {
              const float* wr = w.values.data() + j * s.k;
              // Tight reference from the quantized x (w values are dw * qw exactly, so
              // w_t * dx * qx_t == dw * dx * qw_t * qx_t in double up to rounding ~2^-53).
              double tight = 0.0, tight_mag = 0.0, act_err = 0.0, f32_mag = 0.0;
              for (int64_t blk = 0; blk < nb; ++blk) {
                double wabs = 0.0;
                for (int64_t t = blk * kQuantBlock; t < (blk + 1) * kQuantBlock; ++t) {
                  const double term = static_cast<double>(wr[t]) * dx[blk] * qx[t];
                  tight += term;
                  tight_mag += std::fabs(term);
                  wabs += std::fabs(wr[t]);
                  f32_mag += std::fabs(static_cast<double>(wr[t]) * xr[t]);
                }
                act_err += wabs * dx[blk] * 0.5;
              }
              if (use_bias) tight += bias[j];
              if (accumulate) tight += y0[i * s.n + j];
              const double r = ref[i * s.n + j];
              const double got = y[i * s.n + j];
              if (!quantizes_x) {
                // Scalar: exactly the reference (same table).
                ASSERT_EQ(got, r);
                continue;
              }
              const double f32_err = (nb + 16) * 0x1p-23 * tight_mag + 0x1p-22 * (std::fabs(tight) + 1.0);
              const double e_tight = std::fabs(got - tight);
              ASSERT_LE(e_tight, f32_err) << "vs quantized-x reference at (" << i << ", " << j << ")";
              const double loose = act_err * 1.001 + (s.k + 16) * 0x1p-23 * (f32_mag + tight_mag) +
                                   0x1p-22 * (std::fabs(r) + 1.0);
              const double e_loose = std::fabs(got - r);
              ASSERT_LE(e_loose, loose) << "vs scalar reference at (" << i << ", " << j << ")";
              worst_tight = std::max(worst_tight, e_tight / f32_err);
              worst_loose = std::max(worst_loose, e_loose / loose);
              max_abs = std::max(max_abs, e_loose);
            }
          }
        }
      }
    }
    std::printf("[%s] MatMul %s: max abs diff vs scalar %.3g, worst error / bound: %.3f vs quantized-x "
                "reference, %.3f vs scalar\n", std::string(K().name()).c_str(), std::string(DTypeName(dtype)).c_str(),
                max_abs, worst_tight, worst_loose);
  }
}

// The scalar reference for block types is the f32-weight reference applied to the dequantized
// weights (same double products, same order): bitwise equal.
TEST(KernelsTest, ScalarQuantizedMatMulEqualsDequantizedF32) {
  std::mt19937 rng(77);
  ThreadPool pool(1);
  for (DType dtype : {DType::kQ8_0, DType::kQ4_0}) {
    const int64_t m = 3, n = 11, k = 160;
    const Weights w = MakeWeights(dtype, n, k, rng);
    std::vector<float> x(m * k), y(m * n), ref(m * n);
    FillNormal(x.data(), m * k, rng);
    Scalar().MatMul(pool, x.data(), m, w.view, nullptr, y.data());
    Scalar().MatMul(pool, x.data(), m, MakeView(DType::kF32, w.values.data(), {n, k}), nullptr, ref.data());
    ASSERT_EQ(std::memcmp(y.data(), ref.data(), y.size() * sizeof(float)), 0) << DTypeName(dtype);
  }
}

TEST(KernelsTest, QuantizeRowLayoutAndRoundTrip) {
  // Hand-made block: Q4_0 element 0 is the low nibble of qs[0], element 16 its high nibble.
  float x[32] = {};
  x[0] = -8.0f;  // largest magnitude -> nibble 0, d = 1
  x[1] = 3.0f;
  x[16] = 7.0f;
  x[31] = -1.0f;
  uint8_t q4[18];
  QuantizeRow(DType::kQ4_0, x, 32, q4);
  uint16_t h;
  std::memcpy(&h, q4, 2);
  EXPECT_EQ(F16ToF32(h), 1.0f);
  EXPECT_EQ(q4[2 + 0], 0x0 | (7 + 8) << 4);  // elements 0 and 16
  EXPECT_EQ(q4[2 + 1], (3 + 8) | 8 << 4);     // elements 1 and 17
  EXPECT_EQ(q4[2 + 15], 8 | (-1 + 8) << 4);   // elements 15 and 31
  float back[32];
  DequantizeRow(DType::kQ4_0, q4, 32, back);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(back[i], x[i]) << i;
  // Q8_0: d = 127 / 127 = 1 for max |x| = 127.
  for (int i = 0; i < 32; ++i) x[i] = static_cast<float>(i * 8 - 127);
  uint8_t q8[34];
  QuantizeRow(DType::kQ8_0, x, 32, q8);
  std::memcpy(&h, q8, 2);
  EXPECT_EQ(F16ToF32(h), 1.0f);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(static_cast<int8_t>(q8[2 + i]), i * 8 - 127);
  // Random rows: round-trip error within half a step (+ f16 scale rounding); Q4_0 maps the
  // largest magnitude to -8, so a value of the opposite sign near it clamps at +7: up to a step.
  std::mt19937 rng(3);
  std::vector<float> v(320), out(320);
  FillNormal(v.data(), 320, rng, 2.0f);
  for (DType dtype : {DType::kQ8_0, DType::kQ4_0}) {
    std::vector<uint8_t> buf(*BytesFor(dtype, 320));
    QuantizeRow(dtype, v.data(), 320, buf.data());
    DequantizeRow(dtype, buf.data(), 320, out.data());
    for (int b = 0; b < 10; ++b) {
      float amax = 0.0f;
      for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(v[b * 32 + i]));
      const float step = dtype == DType::kQ8_0 ? amax / 127.0f : amax / 8.0f;
      for (int i = 0; i < 32; ++i) {
        const float bound = dtype == DType::kQ8_0 ? step * 0.5f * 1.01f : step * 1.01f;
        ASSERT_LE(std::fabs(out[b * 32 + i] - v[b * 32 + i]), bound) << DTypeName(dtype) << " " << b;
      }
    }
  }
  // Non-finite input: the block reads back as NaN instead of garbage; no crash.
  x[3] = std::numeric_limits<float>::infinity();
  QuantizeRow(DType::kQ8_0, x, 32, q8);
  DequantizeRow(DType::kQ8_0, q8, 32, back);
  EXPECT_TRUE(std::isnan(back[0]));
}

// Q4_0x16 holds the Q4_0 bytes rearranged: scales first, then 4-byte runs of 16 rows
// (quantize.h); unpacking restores the Q4_0 matrix exactly.
TEST(KernelsTest, RepackQ4_0x16LayoutAndRoundTrip) {
  std::mt19937 rng(8);
  const int64_t n = 48, k = 96;  // 3 groups, 3 blocks
  const uint64_t bytes = *BytesFor(DType::kQ4_0, n * k);
  std::vector<uint8_t> q4(bytes), packed(bytes), back(bytes);
  for (uint8_t& b : q4) b = static_cast<uint8_t>(rng());
  RepackQ4_0x16(q4.data(), n, k, packed.data());
  const int64_t blocks = k / 32;
  for (int64_t row : {int64_t{0}, int64_t{17}, int64_t{47}}) {
    for (int64_t b = 0; b < blocks; ++b) {
      const uint8_t* blk = q4.data() + (row * blocks + b) * 18;
      const uint8_t* rec = packed.data() + ((row / 16) * blocks + b) * 288;
      const int64_t j = row % 16;
      EXPECT_EQ(std::memcmp(rec + 2 * j, blk, 2), 0) << row << " " << b;          // scale
      for (int64_t i = 0; i < 4; ++i) {
        EXPECT_EQ(std::memcmp(rec + 32 + 64 * i + 4 * j, blk + 2 + 4 * i, 4), 0) << row << " " << b << " " << i;
      }
    }
  }
  UnpackQ4_0x16(packed.data(), n, k, back.data());
  EXPECT_EQ(back, q4);
}

// Q8_0x16: scales, then the int8 values + 128 in 4-byte runs of 16 rows; unpacking restores it.
TEST(KernelsTest, RepackQ8_0x16LayoutAndRoundTrip) {
  std::mt19937 rng(9);
  const int64_t n = 32, k = 64;  // 2 groups, 2 blocks
  const uint64_t bytes = *BytesFor(DType::kQ8_0, n * k);
  std::vector<uint8_t> q8(bytes), packed(bytes), back(bytes);
  for (uint8_t& b : q8) b = static_cast<uint8_t>(rng());
  RepackQ8_0x16(q8.data(), n, k, packed.data());
  const int64_t blocks = k / 32;
  for (int64_t row : {int64_t{0}, int64_t{5}, int64_t{31}}) {
    for (int64_t b = 0; b < blocks; ++b) {
      const uint8_t* blk = q8.data() + (row * blocks + b) * 34;
      const uint8_t* rec = packed.data() + ((row / 16) * blocks + b) * 544;
      const int64_t j = row % 16;
      EXPECT_EQ(std::memcmp(rec + 2 * j, blk, 2), 0) << row << " " << b;
      for (int64_t t = 0; t < 32; ++t) {
        EXPECT_EQ(rec[32 + 64 * (t / 4) + 4 * j + t % 4], static_cast<uint8_t>(static_cast<int8_t>(blk[2 + t]) + 128))
            << row << " " << b << " " << t;
      }
    }
  }
  UnpackQ8_0x16(packed.data(), n, k, back.data());
  EXPECT_EQ(back, q8);
}

TEST(KernelsTest, QuantizeActivationRow) {
  float x[64];
  for (int i = 0; i < 32; ++i) x[i] = 0.0f;  // an all-zero block: d = 0, q = 0
  for (int i = 32; i < 64; ++i) x[i] = (i - 48) * 0.25f;  // max |x| = 4 -> d = 4 / 127
  int8_t q[64];
  float d[2];
  QuantizeActivationRow(x, 64, q, d);
  EXPECT_EQ(d[0], 0.0f);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(q[i], 0);
  EXPECT_EQ(d[1], 4.0f / 127.0f);
  EXPECT_EQ(q[32], -127);
  EXPECT_EQ(q[48], 0);
  for (int i = 32; i < 64; ++i) {
    EXPECT_LE(std::fabs(q[i] * d[1] - x[i]), d[1] * 0.5f * 1.0001f) << i;
  }
}

// Every SIMD activation quantizer (KernelTable::quantize_row_q8) equals the portable one bit for
// bit: values, scales (NaN for a block with a non-finite value), zero padding and the -128 *
// 4-value sums; on random rows of several scales, exact .5 ties (d = 1), zero, denormal, NaN and
// infinite blocks.
TEST(KernelsTest, SimdActivationQuantizationEqualsPortable) {
  std::mt19937 rng(17);
  int checked = 0;
  for (const auto& [isa, table] : {std::pair{KernelIsa::kAvx2, kernels_internal::Avx2Table()},
                                   std::pair{KernelIsa::kAvx512, kernels_internal::Avx512Table()}}) {
    if (Kernels::ForIsa(isa) == nullptr || table == nullptr || table->quantize_row_q8 == nullptr) continue;
    for (int64_t k : {32, 96, 896, 4864}) {
      const int64_t padded = (k + 63) / 64 * 64;
      std::vector<float> x(k);
      FillNormal(x.data(), k, rng, k == 96 ? 1e-3f : 2.0f);
      if (k == 96) {
        x[0] = 127.0f;  // block 0: d = 1 exactly, so x / d keeps the .5 ties below
        for (int i = 1; i < 32; ++i) x[i] = static_cast<float>(i % 7) - 3.5f + (i % 3 == 0 ? 0.0f : 1.0f);
        for (int i = 32; i < 64; ++i) x[i] = i % 2 == 0 ? 0.0f : -0.0f;  // all zero: d = 0
        x[64] = std::numeric_limits<float>::denorm_min();            // amax / 127 underflows to 0
        for (int i = 65; i < 96; ++i) x[i] = 0.0f;
      }
      if (k == 896) {
        x[40] = std::numeric_limits<float>::quiet_NaN();
        x[100] = -std::numeric_limits<float>::infinity();
      }
      std::vector<int8_t> q(padded, 99), q_ref(padded, 98);
      std::vector<float> d(padded / 32, 9.0f), d_ref(padded / 32, 8.0f);
      std::vector<int32_t> s(padded / 4, 7), s_ref(padded / 4, 6);
      table->quantize_row_q8(x.data(), k, padded, q.data(), d.data(), s.data());
      kernels_internal::QuantizeRowQ8(x.data(), k, padded, q_ref.data(), d_ref.data(), s_ref.data());
      SCOPED_TRACE(::testing::Message() << KernelIsaName(isa) << " k=" << k);
      EXPECT_EQ(q, q_ref);
      EXPECT_EQ(std::memcmp(d.data(), d_ref.data(), d.size() * sizeof(float)), 0);
      EXPECT_EQ(s, s_ref);
      ++checked;
    }
  }
  if (checked == 0) GTEST_SKIP() << "no SIMD activation quantizer on this CPU";
}

TEST_P(KernelsIsaTest, RmsNormMatchesScalar) {
  std::mt19937 rng(7);
  double max_rel = 0.0;
  for (int64_t d : {1, 7, 8, 16, 33, 64, 896, 1001}) {
    const int64_t m = 5;
    Floats x(m * d), w(d), out(m * d), ref(m * d);
    FillNormal(x.data(), m * d, rng, 3.0f);
    FillNormal(w.data(), d, rng);
    K().RmsNorm(x.data(), m, d, w.data(), 1e-5f, out.data());
    Scalar().RmsNorm(x.data(), m, d, w.data(), 1e-5f, ref.data());
    for (int64_t i = 0; i < m * d; ++i) {
      const double err = std::fabs(out[i] - ref[i]);
      ASSERT_LE(err, 1e-5 * std::fabs(ref[i]) + 1e-6) << "d=" << d << " i=" << i;
      max_rel = std::max(max_rel, err / (std::fabs(ref[i]) + 1e-6));
    }
    // In place gives the same bits as out of place.
    K().RmsNorm(x.data(), m, d, w.data(), 1e-5f, x.data());
    ASSERT_EQ(std::memcmp(x.data(), out.data(), m * d * sizeof(float)), 0) << "d=" << d;
  }
  std::printf("[%s] RmsNorm max rel diff %.3g\n", std::string(K().name()).c_str(), max_rel);
}

TEST_P(KernelsIsaTest, SiluMulMatchesScalar) {
  std::mt19937 rng(8);
  for (int64_t n : {1, 5, 8, 16, 17, 100, 4864}) {
    Floats g(n), u(n), out(n), ref(n);
    FillNormal(g.data(), n, rng, 6.0f);
    FillNormal(u.data(), n, rng);
    if (n > 4) g[0] = -100.0f, g[1] = 100.0f, g[2] = 0.0f, g[3] = -87.5f;
    K().SiluMul(g.data(), u.data(), out.data(), n);
    Scalar().SiluMul(g.data(), u.data(), ref.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_NEAR(out[i], ref[i], 2e-6 * std::fabs(ref[i]) + 1e-30) << "n=" << n << " g=" << g[i];
    }
  }
}

TEST_P(KernelsIsaTest, SoftmaxMatchesScalar) {
  std::mt19937 rng(9);
  for (int64_t n : {1, 5, 8, 16, 17, 100, 1000}) {
    const int64_t m = 3;
    Floats x(m * n), ref(m * n);
    FillNormal(x.data(), m * n, rng, 8.0f);
    x[0] = -200.0f;  // underflows to 0
    std::memcpy(ref.data(), x.data(), m * n * sizeof(float));
    K().Softmax(x.data(), m, n);
    Scalar().Softmax(ref.data(), m, n);
    for (int64_t i = 0; i < m * n; ++i) {
      ASSERT_NEAR(x[i], ref[i], 4e-6 * ref[i] + 1e-30) << "n=" << n << " i=" << i;
    }
  }
}

TEST(KernelsTest, RopeInverseFrequencies) {
  RopeParams p;
  p.head_dim = 128;
  p.theta = 500000.0;
  const std::vector<double> base = RopeInverseFrequencies(p);
  ASSERT_EQ(base.size(), 64u);
  for (int i = 0; i < 64; ++i) EXPECT_DOUBLE_EQ(base[i], std::pow(500000.0, -i / 64.0));

  p.scaling = RopeParams::Scaling::kLinear;
  p.factor = 4.0;
  const std::vector<double> linear = RopeInverseFrequencies(p);
  for (int i = 0; i < 64; ++i) EXPECT_DOUBLE_EQ(linear[i], base[i] / 4.0);

  // Llama 3.1: wavelengths below 8192/4 untouched, above 8192/1 divided by 8, smooth in between.
  p.scaling = RopeParams::Scaling::kLlama3;
  p.factor = 8.0;
  p.low_freq_factor = 1.0;
  p.high_freq_factor = 4.0;
  p.original_max_position_embeddings = 8192;
  const std::vector<double> llama3 = RopeInverseFrequencies(p);
  int kept = 0, divided = 0, smoothed = 0;
  for (int i = 0; i < 64; ++i) {
    const double wavelen = 2 * std::numbers::pi / base[i];
    if (wavelen < 2048) {
      EXPECT_DOUBLE_EQ(llama3[i], base[i]) << i;
      ++kept;
    } else if (wavelen > 8192) {
      EXPECT_DOUBLE_EQ(llama3[i], base[i] / 8) << i;
      ++divided;
    } else {
      EXPECT_LT(llama3[i], base[i]) << i;
      EXPECT_GT(llama3[i], base[i] / 8) << i;
      ++smoothed;
    }
    if (i > 0) {
      EXPECT_LT(llama3[i], llama3[i - 1]) << "frequencies stay decreasing at " << i;
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(divided, 0);
  EXPECT_GT(smoothed, 0);

  // GGUF rope_freqs divide the base frequencies and replace the llama3 rule.
  std::vector<float> divisors(64);
  for (int i = 0; i < 64; ++i) divisors[i] = 1.0f + i;
  p.freq_divisors = divisors;
  const std::vector<double> div = RopeInverseFrequencies(p);
  for (int i = 0; i < 64; ++i) EXPECT_DOUBLE_EQ(div[i], base[i] / (1.0 + i));
}

// Rope against rotations written out directly from the definition, and SIMD vs scalar bitwise
// (all ISAs evaluate x * c + partner * s with the same two products and one add).
TEST_P(KernelsIsaTest, RopeRotatesPairs) {
  std::mt19937 rng(10);
  for (RopePairing pairing : {RopePairing::kNeox, RopePairing::kInterleaved}) {
    for (int64_t hd : {8, 16, 24, 64, 128}) {
      SCOPED_TRACE(::testing::Message() << "pairing " << static_cast<int>(pairing) << " head_dim " << hd);
      const int64_t m = 4, heads = 3, stride = heads * hd + 5;
      RopeParams p;
      p.head_dim = hd;
      p.theta = 10000.0;
      const std::vector<double> inv = RopeInverseFrequencies(p);
      const std::vector<int32_t> positions = {0, 1, 17, 4095};
      Floats table(m * 2 * hd), x(m * stride), ref(m * stride);
      K().BuildRopeTable(positions, inv, pairing, table.data());
      FillNormal(x.data(), m * stride, rng);
      std::memcpy(ref.data(), x.data(), m * stride * sizeof(float));
      std::vector<float> orig(x.data(), x.data() + m * stride);
      K().Rope(x.data(), m, heads, hd, stride, table.data(), pairing);
      Scalar().Rope(ref.data(), m, heads, hd, stride, table.data(), pairing);
      ASSERT_EQ(std::memcmp(x.data(), ref.data(), m * stride * sizeof(float)), 0);
      for (int64_t t = 0; t < m; ++t) {
        for (int64_t h = 0; h < heads; ++h) {
          for (int64_t i = 0; i < hd / 2; ++i) {
            const int64_t e0 = pairing == RopePairing::kNeox ? i : 2 * i;
            const int64_t e1 = pairing == RopePairing::kNeox ? i + hd / 2 : 2 * i + 1;
            const double angle = positions[t] * std::pow(10000.0, -2.0 * i / hd);
            const double x0 = orig[t * stride + h * hd + e0], x1 = orig[t * stride + h * hd + e1];
            EXPECT_NEAR(x[t * stride + h * hd + e0], x0 * std::cos(angle) - x1 * std::sin(angle), 1e-5);
            EXPECT_NEAR(x[t * stride + h * hd + e1], x0 * std::sin(angle) + x1 * std::cos(angle), 1e-5);
          }
        }
        // Padding after the heads is untouched.
        for (int64_t e = heads * hd; e < stride; ++e) ASSERT_EQ(x[t * stride + e], orig[t * stride + e]);
      }
    }
  }
}

TEST(KernelsTest, EmbeddingLookupConvertsExactly) {
  std::mt19937 rng(11);
  const int64_t vocab = 10;
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
    const int64_t d = IsBlockType(dtype) ? 64 : 13;
    const Weights w = MakeWeights(dtype, vocab, d, rng);
    const std::vector<TokenId> tokens = {3, 0, 9, 3};
    std::vector<float> out(tokens.size() * d);
    Kernels::Default().EmbeddingLookup(w.view, tokens, out.data());
    for (size_t i = 0; i < tokens.size(); ++i) {
      for (int64_t j = 0; j < d; ++j) ASSERT_EQ(out[i * d + j], w.values[tokens[i] * d + j]);
    }
  }
}

TEST(KernelsTest, StoreKvWritesBlockHeadOffsetLayout) {
  const int64_t nkv = 2, hd = 3, bs = 4, num_blocks = 5;
  std::vector<float> kc(num_blocks * nkv * bs * hd, 0.0f), vc(kc.size(), 0.0f);
  const std::vector<int64_t> slots = {0, 13, 19};  // block 0 off 0, block 3 off 1, block 4 off 3
  std::vector<float> k(slots.size() * nkv * hd), v(k.size());
  for (size_t i = 0; i < k.size(); ++i) k[i] = 1.0f + i, v[i] = -1.0f - i;
  Kernels::Default().StoreKv(k.data(), v.data(), slots, nkv, hd, bs, kc.data(), vc.data());
  for (size_t t = 0; t < slots.size(); ++t) {
    for (int64_t h = 0; h < nkv; ++h) {
      for (int64_t e = 0; e < hd; ++e) {
        const int64_t at = ((slots[t] / bs * nkv + h) * bs + slots[t] % bs) * hd + e;
        EXPECT_EQ(kc[at], k[(t * nkv + h) * hd + e]);
        EXPECT_EQ(vc[at], v[(t * nkv + h) * hd + e]);
      }
    }
  }
  int nonzero = 0;
  for (float f : kc) nonzero += f != 0.0f;
  EXPECT_EQ(nonzero, static_cast<int>(slots.size() * nkv * hd));
}

INSTANTIATE_TEST_SUITE_P(AllIsas, KernelsIsaTest,
                         ::testing::ValuesIn(testing::AllIsas()), testing::IsaParamName);

}  // namespace
}  // namespace pagellm
