// Tests for the 32-value block weights with a min and/or a 5th bit (Q4_1, Q5_0, Q5_1): the byte
// layout on hand-built blocks, the quantizer, and every ISA's MatMul against the scalar reference
// (odd m / n / block counts, misaligned rows, bias / accumulate, raw random and extreme bytes,
// batch invariance, multi-output calls), plus EmbeddingLookup.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/base/half.h"
#include "src/kernels/isa_testutil.h"
#include "src/kernels/kernels.h"
#include "src/kernels/quant_matmul_testutil.h"
#include "src/kernels/quantize.h"

namespace pagellm {
namespace {

constexpr DType kTypes[] = {DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kIQ4_NL};

// Byte offsets inside one block, written out from ggml's block_q4_1 / q5_0 / q5_1 (not taken
// from the code under test): d at 0, then m (Q4_1, Q5_1), then qh (Q5_0, Q5_1), then qs[16].
struct Layout {
  int bytes, m_at, qh_at, qs_at;  // -1: field absent
};
Layout LayoutOf(DType dtype) {
  switch (dtype) {
    case DType::kQ4_1: return {20, 2, -1, 4};
    case DType::kQ5_0: return {22, -1, 2, 6};
    case DType::kQ5_1: return {24, 2, 4, 8};
    case DType::kIQ4_NL: return {18, -1, -1, 2};  // ggml's block_iq4_nl: d, qs[16]
    default: ADD_FAILURE() << "not a Q4_1 / Q5_0 / Q5_1 / IQ4_NL dtype"; return {0, -1, -1, 0};
  }
}

void PutHalf(uint8_t* p, uint16_t h) {
  p[0] = static_cast<uint8_t>(h & 0xff);
  p[1] = static_cast<uint8_t>(h >> 8);
}

// Two hand-built blocks per type. Block 0: d = 0.5 (f16 0x3800), m = -1.25 (0xbd00); block 1:
// d = -2 (0xc000), m = 0.75 (0x3a00). qs[i] = i | (15 - i) << 4, so element i < 16 has nibble i
// and element 16 + i nibble 15 - i; qh bytes 01 0f c3 a5 (block 1: ff 00 80 7e).
TEST(Q5Test, DequantizeHandBuiltBlocks) {
  const uint8_t qh[2][4] = {{0x01, 0x0f, 0xc3, 0xa5}, {0xff, 0x00, 0x80, 0x7e}};
  const uint16_t d_half[2] = {0x3800, 0xc000}, m_half[2] = {0xbd00, 0x3a00};
  const float d[2] = {0.5f, -2.0f}, m[2] = {-1.25f, 0.75f};
  for (DType dtype : {DType::kQ4_1, DType::kQ5_0, DType::kQ5_1}) {  // IQ4_NL: its own test below
    SCOPED_TRACE(DTypeName(dtype));
    const Layout L = LayoutOf(dtype);
    ASSERT_EQ(Info(dtype).block_bytes, L.bytes);
    ASSERT_EQ(Info(dtype).block_elems, 32);
    // At an odd address: rows need no alignment.
    std::vector<uint8_t> storage(2 * L.bytes + 1, 0xee);
    uint8_t* blocks = storage.data() + 1;
    for (int b = 0; b < 2; ++b) {
      uint8_t* blk = blocks + b * L.bytes;
      PutHalf(blk, d_half[b]);
      if (L.m_at >= 0) PutHalf(blk + L.m_at, m_half[b]);
      if (L.qh_at >= 0) std::memcpy(blk + L.qh_at, qh[b], 4);
      for (int i = 0; i < 16; ++i) blk[L.qs_at + i] = static_cast<uint8_t>(i | (15 - i) << 4);
    }
    std::vector<float> y(64);
    DequantizeRow(dtype, blocks, 64, y.data());
    for (int b = 0; b < 2; ++b) {
      for (int e = 0; e < 32; ++e) {
        const int nibble = e < 16 ? e : 15 - (e - 16);
        const int high = L.qh_at >= 0 ? (qh[b][e / 8] >> (e % 8)) & 1 : 0;
        const int q = nibble + 16 * high;
        // Small integers times powers of two plus quarter-multiples: exact in f32.
        const float want = L.m_at >= 0 ? d[b] * static_cast<float>(q) + m[b] : d[b] * static_cast<float>(q - 16);
        ASSERT_EQ(y[32 * b + e], want) << "block " << b << " element " << e;
      }
    }
    // A few values worked out by hand.
    if (dtype == DType::kQ4_1) {
      EXPECT_EQ(y[0], -1.25f);   // 0.5 * 0 - 1.25
      EXPECT_EQ(y[5], 1.25f);    // 0.5 * 5 - 1.25
      EXPECT_EQ(y[16], 6.25f);   // 0.5 * 15 - 1.25
      EXPECT_EQ(y[31], -1.25f);  // 0.5 * 0 - 1.25
      EXPECT_EQ(y[33], -1.25f);  // -2 * 1 + 0.75
    } else if (dtype == DType::kQ5_0) {
      EXPECT_EQ(y[0], 0.0f);    // q = 0 | 16 (qh bit 0)
      EXPECT_EQ(y[1], -7.5f);   // q = 1: 0.5 * (1 - 16)
      EXPECT_EQ(y[8], 4.0f);    // q = 8 | 16 (qh byte 1 bit 0)
      EXPECT_EQ(y[16], 7.5f);   // q = 15 | 16 (qh byte 2 bit 0)
      EXPECT_EQ(y[18], -1.5f);  // q = 13 (qh byte 2 bit 2 clear)
      EXPECT_EQ(y[31], 0.0f);   // q = 0 | 16 (qh byte 3 bit 7)
      EXPECT_EQ(y[32], 0.0f);    // block 1: q = 0 | 16, -2 * 0
      EXPECT_EQ(y[33], -2.0f);   // q = 1 | 16: -2 * 1
      EXPECT_EQ(y[40], 16.0f);   // q = 8 (qh byte 1 is 0): -2 * (8 - 16)
    } else {
      EXPECT_EQ(y[0], 6.75f);   // 0.5 * 16 - 1.25
      EXPECT_EQ(y[1], -0.75f);  // 0.5 * 1 - 1.25
      EXPECT_EQ(y[16], 14.25f);  // 0.5 * 31 - 1.25
      EXPECT_EQ(y[18], 5.25f);  // 0.5 * 13 - 1.25
    }
    // The embedding lookup reads the same values.
    std::vector<float> row(64);
    const TokenId token = 0;
    Kernels::Default().EmbeddingLookup(MakeView(dtype, blocks, {1, 64}), {&token, 1}, row.data());
    EXPECT_EQ(std::memcmp(row.data(), y.data(), y.size() * 4), 0);
  }
}

// Our quantizer: the layout (hand-checked for one block), round trips within the format's step,
// zeros and non-finite blocks.
TEST(Q5Test, QuantizeRowLayoutAndRoundTrip) {
  // x[i] = i - 16 for i < 32: Q5_0 maps the value of largest magnitude, -16, to q = 0 (d = 1), so
  // q_i = i: nibbles i % 16 and the 5th bits set for i >= 16 (qh = 0xffff0000).
  float x[32];
  for (int i = 0; i < 32; ++i) x[i] = static_cast<float>(i - 16);
  uint8_t q5[22];
  QuantizeRow(DType::kQ5_0, x, 32, q5);
  EXPECT_EQ(F16ToF32(static_cast<uint16_t>(q5[0] | q5[1] << 8)), 1.0f);
  EXPECT_EQ(q5[2], 0x00);
  EXPECT_EQ(q5[3], 0x00);
  EXPECT_EQ(q5[4], 0xff);
  EXPECT_EQ(q5[5], 0xff);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(q5[6 + i], static_cast<uint8_t>(i | i << 4)) << i;
  // Q5_1 of the same x: m = -16, d = 31 / 31 = 1, q_i = i: same qh and qs after the 4-byte head.
  uint8_t q51[24];
  QuantizeRow(DType::kQ5_1, x, 32, q51);
  EXPECT_EQ(F16ToF32(static_cast<uint16_t>(q51[0] | q51[1] << 8)), 1.0f);
  EXPECT_EQ(F16ToF32(static_cast<uint16_t>(q51[2] | q51[3] << 8)), -16.0f);
  EXPECT_EQ(std::memcmp(q51 + 4, q5 + 2, 20), 0);
  // Q4_1 of x[i] = i % 16 (0..15): m = 0, d = 1, nibble i % 16 in both halves.
  for (int i = 0; i < 32; ++i) x[i] = static_cast<float>(i % 16);
  uint8_t q41[20];
  QuantizeRow(DType::kQ4_1, x, 32, q41);
  EXPECT_EQ(F16ToF32(static_cast<uint16_t>(q41[0] | q41[1] << 8)), 1.0f);
  EXPECT_EQ(F16ToF32(static_cast<uint16_t>(q41[2] | q41[3] << 8)), 0.0f);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(q41[4 + i], static_cast<uint8_t>(i | i << 4)) << i;

  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  for (DType dtype : kTypes) {
    SCOPED_TRACE(DTypeName(dtype));
    constexpr int64_t k = 32 * 37;
    std::vector<float> xs(k), y(k);
    for (float& v : xs) v = dist(rng);
    xs[5] = 0.2f;  // an outlier
    xs[100] = 1.5f;  // a block offset far from 0
    for (int i = 96; i < 128; ++i) xs[i] += 1.0f;
    std::vector<uint8_t> q(*BytesFor(dtype, k));
    QuantizeRow(dtype, xs.data(), k, q.data());
    DequantizeRow(dtype, q.data(), k, y.data());
    for (int64_t b = 0; b < k / 32; ++b) {
      float lo = xs[32 * b], hi = xs[32 * b], amax = 0.0f;
      for (int i = 0; i < 32; ++i) {
        lo = std::min(lo, xs[32 * b + i]);
        hi = std::max(hi, xs[32 * b + i]);
        amax = std::max(amax, std::fabs(xs[32 * b + i]));
      }
      // Q5_0: step amax / 16, a value opposite the extreme may clamp (one step); Q4_1 / Q5_1: half
      // a step of the range plus the f16 roundings of d and m; IQ4_NL (d = amax / 127): the widest
      // level gap is 24, and the far end of the table (113) falls 14 short of 127.
      const float steps = dtype == DType::kQ4_1 ? 15.0f : 31.0f;
      const float bound = dtype == DType::kQ5_0     ? amax / 16.0f * 1.01f
                          : dtype == DType::kIQ4_NL ? amax * 14.0f / 127.0f * 1.01f
                                                    : (hi - lo) / steps * 0.55f + amax * 0x1p-10f;
      for (int i = 0; i < 32; ++i) ASSERT_LE(std::fabs(y[32 * b + i] - xs[32 * b + i]), bound) << b << " " << i;
    }
    std::vector<float> zeros(32, 0.0f), back(32);
    QuantizeRow(dtype, zeros.data(), 32, q.data());
    DequantizeRow(dtype, q.data(), 32, back.data());
    for (float v : back) ASSERT_EQ(v, 0.0f);
    zeros[7] = std::numeric_limits<float>::infinity();
    QuantizeRow(dtype, zeros.data(), 32, q.data());
    DequantizeRow(dtype, q.data(), 32, back.data());
    EXPECT_TRUE(std::isnan(back[0]));
  }
}

// IQ4_NL: a hand-built block reads back as d * level, with the levels of ggml's kvalues_iq4nl
// written out here.
TEST(Q5Test, IQ4_NLDequantizeHandBuiltBlock) {
  constexpr int8_t kLevels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  uint8_t blk[18];
  PutHalf(blk, 0xb800);  // d = -0.5
  for (int i = 0; i < 16; ++i) blk[2 + i] = static_cast<uint8_t>(i | (15 - i) << 4);
  float y[32];
  DequantizeRow(DType::kIQ4_NL, blk, 32, y);
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(y[i], -0.5f * kLevels[i]) << i;
    EXPECT_EQ(y[16 + i], -0.5f * kLevels[15 - i]) << i;
  }
}

// Q5_0x16: per (group, block) record the 16 d, the 16 rows' qh, then 4-byte runs of their qs
// (quantize.h); IQ4_NLx16 is Q4_0x16's layout. Unpacking restores the matrix exactly.
TEST(Q5Test, RepackQ5_0x16AndIQ4_NLx16LayoutAndRoundTrip) {
  std::mt19937 rng(10);
  std::uniform_int_distribution<int> byte(0, 255);
  const int64_t n = 48, k = 96;  // 3 groups, 3 blocks
  for (DType dtype : {DType::kQ5_0, DType::kIQ4_NL}) {
    SCOPED_TRACE(DTypeName(dtype));
    const int64_t bytes_per_block = dtype == DType::kQ5_0 ? 22 : 18;
    const uint64_t bytes = *BytesFor(dtype, n * k);
    std::vector<uint8_t> plain(bytes), packed(bytes), back(bytes);
    for (uint8_t& b : plain) b = static_cast<uint8_t>(byte(rng));
    if (dtype == DType::kQ5_0) {
      RepackQ5_0x16(plain.data(), n, k, packed.data());
    } else {
      RepackIQ4_NLx16(plain.data(), n, k, packed.data());
    }
    const int64_t blocks = k / 32, record = 16 * bytes_per_block, runs = (bytes_per_block - 2) / 4;
    for (int64_t row : {int64_t{0}, int64_t{17}, int64_t{47}}) {
      for (int64_t b = 0; b < blocks; ++b) {
        const uint8_t* blk = plain.data() + (row * blocks + b) * bytes_per_block;
        const uint8_t* rec = packed.data() + ((row / 16) * blocks + b) * record;
        const int64_t j = row % 16;
        EXPECT_EQ(std::memcmp(rec + 2 * j, blk, 2), 0) << row << " " << b;  // d
        for (int64_t i = 0; i < runs; ++i) {  // Q5_0: qh, then qs; IQ4_NL: qs
          EXPECT_EQ(std::memcmp(rec + 32 + 64 * i + 4 * j, blk + 2 + 4 * i, 4), 0) << row << " " << b << " " << i;
        }
      }
    }
    if (dtype == DType::kQ5_0) {
      UnpackQ5_0x16(packed.data(), n, k, back.data());
    } else {
      UnpackIQ4_NLx16(packed.data(), n, k, back.data());
    }
    EXPECT_EQ(back, plain);
  }
}

void FillNormal(float* p, int64_t n, std::mt19937& rng, float stddev = 1.0f) {
  std::normal_distribution<float> dist(0.0f, stddev);
  for (int64_t i = 0; i < n; ++i) p[i] = dist(rng);
}

// [n, k] weights at an odd address, their dequantized values, and each block's d and m (0 for
// Q5_0) read from the bytes.
// [n, k] weights at an odd address, their dequantized values, and each block's d and m (0 for
// Q5_0 / IQ4_NL) read from the bytes. For the x16 types (Q5_0x16, IQ4_NLx16; n a multiple of 16)
// `view` is the repacked matrix and `plain` the Q5_0 / IQ4_NL one; otherwise both are the same.
struct QWeights {
  std::vector<uint8_t> storage, packed_storage;
  std::vector<float> values;
  std::vector<float> block_d, block_m;  // [n * k / 32]
  TensorView view, plain;
};

DType PlainOf(DType dtype) {
  return dtype == DType::kQ5_0x16 ? DType::kQ5_0 : dtype == DType::kIQ4_NLx16 ? DType::kIQ4_NL : dtype;
}

enum class Fill {
  kQuantized,  // random normal values through QuantizeRow
  kRawBytes,   // uniformly random qs / qh bytes, random f16 d and m
  kExtreme,    // every q at its maximum (qs 0xff, qh all ones)
};

QWeights MakeQWeights(DType packed, int64_t n, int64_t k, std::mt19937& rng, Fill fill = Fill::kQuantized) {
  const DType dtype = PlainOf(packed);
  QWeights w;
  w.values.resize(static_cast<size_t>(n * k));
  const uint64_t row_bytes = *BytesFor(dtype, k);
  w.storage.resize(n * row_bytes + 64 + 1);
  uint8_t* base = w.storage.data() + ((64 - reinterpret_cast<uintptr_t>(w.storage.data()) % 64) % 64) + 1;
  const float scale = 1.0f / std::sqrt(static_cast<float>(k));
  if (fill == Fill::kQuantized) {
    FillNormal(w.values.data(), n * k, rng, scale);
    for (int64_t j = 0; j < n; ++j) QuantizeRow(dtype, w.values.data() + j * k, k, base + j * row_bytes);
  } else {
    const Layout L = LayoutOf(dtype);
    std::uniform_int_distribution<int> byte(0, 255);
    std::normal_distribution<float> dist(0.0f, scale);
    for (int64_t blk = 0; blk < n * k / 32; ++blk) {
      uint8_t* p = base + blk * L.bytes;
      PutHalf(p, F32ToF16(dist(rng) / 8.0f));
      if (L.m_at >= 0) PutHalf(p + L.m_at, F32ToF16(dist(rng)));
      for (int i = L.qh_at >= 0 ? L.qh_at : L.qs_at; i < L.bytes; ++i) {
        p[i] = fill == Fill::kExtreme ? 0xff : static_cast<uint8_t>(byte(rng));
      }
    }
  }
  for (int64_t j = 0; j < n; ++j) DequantizeRow(dtype, base + j * row_bytes, k, w.values.data() + j * k);
  const Layout L = LayoutOf(dtype);
  for (int64_t blk = 0; blk < n * k / 32; ++blk) {
    const uint8_t* p = base + blk * L.bytes;
    w.block_d.push_back(F16ToF32(static_cast<uint16_t>(p[0] | p[1] << 8)));
    w.block_m.push_back(L.m_at >= 0 ? F16ToF32(static_cast<uint16_t>(p[L.m_at] | p[L.m_at + 1] << 8)) : 0.0f);
  }
  w.plain = MakeView(dtype, base, {n, k});
  w.view = w.plain;
  if (packed != dtype) {
    w.packed_storage.resize(w.storage.size());
    uint8_t* out = w.packed_storage.data() + (base - w.storage.data());  // also at an odd address
    (packed == DType::kQ5_0x16 ? &RepackQ5_0x16 : &RepackIQ4_NLx16)(base, n, k, out);
    w.view = MakeView(packed, out, {n, k});
  }
  return w;
}

// The types of kTypes, plus their x16 repacks where `kernels` multiplies by them (VNNI).
std::vector<DType> QTypes(const Kernels& kernels) {
  std::vector<DType> types(std::begin(kTypes), std::end(kTypes));
  for (DType x16 : {DType::kQ5_0x16, DType::kIQ4_NLx16}) {
    if (kernels.SupportsWeights(x16)) types.push_back(x16);
  }
  return types;
}

// n rounded up to whole 16-row groups for the x16 layouts.
int64_t QRows(DType dtype, int64_t n) { return IsX16(dtype) ? (n + 15) / 16 * 16 : n; }

class Q5IsaTest : public testing::IsaTest {};

const Kernels& Scalar() { return *Kernels::ForIsa(KernelIsa::kScalar); }

// Every table supports the four types (VNNI also their x16 repacks); each matches the scalar
// reference (the dequantized weights, f32 x, double sums) within the bounds of
// testing::CheckQuantizedOutputs, the scalar table exactly.
TEST_P(Q5IsaTest, MatMulMatchesScalar) {
  struct Shape {
    int64_t m, k, n;
  };
  const Shape shapes[] = {{1, 32, 1},  {1, 64, 5},  {1, 96, 17},  {2, 160, 9},  {3, 224, 37}, {5, 896, 67},
                          {4, 64, 64}, {7, 288, 13}, {17, 896, 40}, {67, 96, 23}, {1, 2080, 9}, {130, 64, 19}};
  ThreadPool pool(2);
  std::mt19937 rng(4321);
  for (DType dtype : QTypes(K())) {
    ASSERT_TRUE(K().SupportsWeights(dtype));
    testing::QuantMatMulStats stats;
    int case_idx = 0;
    for (Shape s : shapes) {
      s.n = QRows(dtype, s.n);
      for (bool use_bias : {false, true}) {
        for (bool accumulate : {false, true}) {
          const Fill fill = case_idx % 3 == 0 ? Fill::kQuantized : case_idx % 3 == 1 ? Fill::kRawBytes : Fill::kExtreme;
          ++case_idx;
          SCOPED_TRACE(::testing::Message() << DTypeName(dtype) << " m=" << s.m << " k=" << s.k << " n=" << s.n
                                          << " bias=" << use_bias << " acc=" << accumulate
                                          << " fill=" << static_cast<int>(fill));
          const QWeights w = MakeQWeights(dtype, s.n, s.k, rng, fill);
          std::vector<float> xs(s.m * s.k + 1), bias(s.n), y(s.m * s.n + 1), ref(s.m * s.n);
          float* x = xs.data() + 1;  // misaligned
          FillNormal(x, s.m * s.k, rng);
          if (fill == Fill::kExtreme) {
            // Whole blocks of +-max|x| make every qx +-127: the largest int sums the kernels see.
            for (int64_t t = 0; t < s.m * s.k; ++t) x[t] = t % 3 == 0 ? -3.0f : 3.0f;
          }
          FillNormal(bias.data(), s.n, rng);
          FillNormal(y.data() + 1, s.m * s.n, rng);
          std::memcpy(ref.data(), y.data() + 1, sizeof(float) * s.m * s.n);
          const std::vector<float> y0(ref);
          const float* b = use_bias ? bias.data() : nullptr;
          K().MatMul(pool, x, s.m, w.view, b, y.data() + 1, accumulate);
          Scalar().MatMul(pool, x, s.m, w.plain, b, ref.data(), accumulate);
          // Largest |term| per element: |d| * 31 (the q part; IQ4_NL: 127) + |m| (the min part).
          const int64_t nb = s.k / 32;
          const double qmax = PlainOf(dtype) == DType::kIQ4_NL ? 127.0 : 31.0;
          const testing::TermMax term_max = [&](int64_t j, int64_t blk) {
            return qmax * std::fabs(w.block_d[j * nb + blk]) + std::fabs(w.block_m[j * nb + blk]);
          };
          ASSERT_NO_FATAL_FAILURE(testing::CheckQuantizedOutputs(x, s.m, s.k, s.n, w.values.data(), term_max, b,
                                                                 accumulate ? y0.data() : nullptr, y.data() + 1,
                                                                 ref.data(), GetParam() == KernelIsa::kScalar, &stats));
        }
      }
    }
    stats.Print(K().name(), DTypeName(dtype));
  }
}

// The scalar reference equals the F32 reference on the dequantized weights, bitwise.
TEST(Q5Test, ScalarMatMulEqualsDequantizedF32) {
  std::mt19937 rng(77);
  for (DType dtype : kTypes) {
    const QWeights w = MakeQWeights(dtype, 7, 224, rng);
    testing::CheckScalarEqualsDequantizedF32(w.view, w.values.data(), rng);
  }
}

// A row of y depends only on that row of x: not on M, its index in the batch or the threads.
TEST_P(Q5IsaTest, MatMulIsBatchInvariant) {
  std::mt19937 rng(99);
  for (DType dtype : QTypes(K())) {
    for (auto [k, n] : {std::pair<int64_t, int64_t>{96, 77}, {896, 37}, {32, 9}}) {
      n = QRows(dtype, n);
      SCOPED_TRACE(::testing::Message() << DTypeName(dtype) << " k=" << k << " n=" << n);
      const QWeights w = MakeQWeights(dtype, n, k, rng, n == 37 ? Fill::kRawBytes : Fill::kQuantized);
      ASSERT_NO_FATAL_FAILURE(testing::CheckBatchInvariant(K(), w.view, rng));
    }
  }
}

// One call with several outputs of different types gives each the bits of its own call.
TEST_P(Q5IsaTest, MultiOutputMatMulEqualsSeparateCalls) {
  std::mt19937 rng(11);
  ThreadPool pool(2);
  const int64_t k = 160;
  for (int64_t m : {1, 3, 70}) {
    const QWeights a = MakeQWeights(DType::kQ4_1, 48, k, rng), b = MakeQWeights(DType::kQ5_0, 21, k, rng),
                   c = MakeQWeights(DType::kQ5_1, 64, k, rng);
    std::vector<float> x(m * k), bias(48);
    FillNormal(x.data(), m * k, rng);
    FillNormal(bias.data(), 48, rng);
    std::vector<float> ya(m * 48), yb(m * 21), yc(m * 64);
    FillNormal(yc.data(), m * 64, rng);
    std::vector<float> sa(ya), sb(yb), sc(yc);
    const Kernels::MatMulOutput outs[] = {{a.view, bias.data(), ya.data(), false},
                                          {b.view, nullptr, yb.data(), false},
                                          {c.view, nullptr, yc.data(), true}};
    K().MatMul(pool, x.data(), m, outs);
    K().MatMul(pool, x.data(), m, a.view, bias.data(), sa.data());
    K().MatMul(pool, x.data(), m, b.view, nullptr, sb.data());
    K().MatMul(pool, x.data(), m, c.view, nullptr, sc.data(), true);
    EXPECT_EQ(std::memcmp(ya.data(), sa.data(), ya.size() * 4), 0) << "m=" << m;
    EXPECT_EQ(std::memcmp(yb.data(), sb.data(), yb.size() * 4), 0) << "m=" << m;
    EXPECT_EQ(std::memcmp(yc.data(), sc.data(), yc.size() * 4), 0) << "m=" << m;
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Q5IsaTest,
                         ::testing::ValuesIn(testing::AllIsas()), testing::IsaParamName);

}  // namespace
}  // namespace pagellm
