// Tests for the K-quant weights (Q2_K .. Q6_K): the byte layout against ggml's own output (golden
// file), the quantizer, and every ISA's MatMul against the scalar reference (odd m / n, misaligned
// rows, bias / accumulate, batch invariance), plus EmbeddingLookup.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/kernels/isa_testutil.h"
#include "src/kernels/kernels.h"
#include "src/kernels/quant_matmul_testutil.h"
#include "src/kernels/quantize.h"

namespace pagellm {
namespace {

// One type's section of testdata/kquants_ggml_golden.txt: ggml's quantized bytes and its
// dequantization of them (f32 bit patterns).
struct Golden {
  std::vector<uint8_t> bytes;
  std::vector<uint32_t> floats;
};

// The golden file: made by a throwaway C program linked against ggml (llama.cpp c392e509,
// ggml-quants.c): quantize_row_q{4,6,5,3,2}_K_ref / iq4_nl_ref of a fixed input, then
// dequantize_row_q{4,6,5,3,2}_K / iq4_nl of those bytes (see the commits that added it).
std::map<std::string, Golden> ReadGolden() {
  std::ifstream in(std::filesystem::path(__FILE__).parent_path() / "testdata" / "kquants_ggml_golden.txt");
  std::map<std::string, Golden> out;
  std::string line, section, kind;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.find(' ') != std::string::npos && (line.ends_with(" bytes") || line.ends_with(" floats"))) {
      section = line.substr(0, line.find(' '));
      kind = line.substr(line.find(' ') + 1);
      continue;
    }
    Golden& g = out[section];
    if (kind == "bytes") {
      for (size_t i = 0; i + 1 < line.size(); i += 2)
        g.bytes.push_back(static_cast<uint8_t>(std::stoul(line.substr(i, 2), nullptr, 16)));
    } else {
      std::istringstream words(line);
      std::string w;
      while (words >> w) g.floats.push_back(static_cast<uint32_t>(std::stoul(w, nullptr, 16)));
    }
  }
  return out;
}

TEST(KQuantTest, DequantizationEqualsGgmlBitForBit) {
  const std::map<std::string, Golden> golden = ReadGolden();
  ASSERT_EQ(golden.size(), 6u) << "testdata/kquants_ggml_golden.txt missing or malformed";
  for (const auto& [name, dtype] : {std::pair<std::string, DType>{"q2_K", DType::kQ2_K}, {"q3_K", DType::kQ3_K}, {"q4_K", DType::kQ4_K},
                                    {"iq4_nl", DType::kIQ4_NL},
                                    {"q5_K", DType::kQ5_K}, {"q6_K", DType::kQ6_K}}) {
    SCOPED_TRACE(name);
    const Golden& g = golden.at(name);
    const int64_t k = static_cast<int64_t>(g.floats.size());
    ASSERT_EQ(k % kSuperBlock, 0);
    ASSERT_EQ(g.bytes.size(), *BytesFor(dtype, static_cast<uint64_t>(k)));
    // At an odd address: rows need no alignment.
    std::vector<uint8_t> storage(g.bytes.size() + 1);
    std::memcpy(storage.data() + 1, g.bytes.data(), g.bytes.size());
    std::vector<float> y(static_cast<size_t>(k));
    DequantizeRow(dtype, storage.data() + 1, k, y.data());
    int nonzero = 0;
    for (int64_t i = 0; i < k; ++i) {
      uint32_t bits;
      std::memcpy(&bits, &y[i], 4);
      ASSERT_EQ(bits, g.floats[i]) << "value " << i << ": " << y[i];
      nonzero += y[i] != 0.0f;
    }
    EXPECT_GT(nonzero, k / 2);
    // The embedding lookup reads the same values.
    std::vector<float> row(static_cast<size_t>(k));
    const TokenId token = 0;
    Kernels::Default().EmbeddingLookup(MakeView(dtype, storage.data() + 1, {1, k}), {&token, 1}, row.data());
    EXPECT_EQ(std::memcmp(row.data(), y.data(), y.size() * 4), 0);
  }
}

// Hand-packed Q4_K scales: every 6-bit scale and min comes back from its packed bits.
TEST(KQuantTest, Q4KScalePacking) {
  uint8_t scales[12] = {};
  const uint8_t sc[8] = {1, 63, 17, 32, 5, 48, 63, 0}, m[8] = {62, 0, 33, 7, 60, 15, 16, 63};
  for (int j = 0; j < 4; ++j) {
    scales[j] = static_cast<uint8_t>(sc[j] | (sc[j + 4] >> 4) << 6);
    scales[j + 4] = static_cast<uint8_t>(m[j] | (m[j + 4] >> 4) << 6);
    scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
  }
  uint8_t got_sc[8], got_m[8];
  UnpackQ4KScales(scales, got_sc, got_m);
  for (int j = 0; j < 8; ++j) {
    EXPECT_EQ(got_sc[j], sc[j]) << j;
    EXPECT_EQ(got_m[j], m[j]) << j;
  }
}

// Hand-packed Q3_K scales: every 6-bit scale comes back from its packed bits.
TEST(KQuantTest, Q3KScalePacking) {
  const uint8_t sc[16] = {0, 63, 32, 31, 1, 62, 17, 48, 5, 40, 33, 15, 16, 47, 60, 2};
  uint8_t scales[12] = {};
  for (int i = 0; i < 16; ++i) {
    scales[i % 8] |= static_cast<uint8_t>((sc[i] & 15) << (4 * (i / 8)));
    scales[8 + i % 4] |= static_cast<uint8_t>((sc[i] >> 4) << (2 * (i / 4)));
  }
  uint8_t got[16];
  UnpackQ3KScales(scales, got);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(got[i], sc[i]) << i;
}

// Our quantizer: round trips within the format's step sizes; zeros and non-finite blocks.
TEST(KQuantTest, QuantizeRoundTrip) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  for (DType dtype : {DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    SCOPED_TRACE(DTypeName(dtype));
    constexpr int64_t k = 4 * kSuperBlock;
    std::vector<float> x(k), y(k);
    for (float& v : x) v = dist(rng);
    x[5] = 0.2f;  // an outlier
    std::vector<uint8_t> q(*BytesFor(dtype, k));
    QuantizeRow(dtype, x.data(), k, q.data());
    DequantizeRow(dtype, q.data(), k, y.data());
    double err2 = 0.0, x2 = 0.0;
    for (int64_t i = 0; i < k; ++i) {
      err2 += (y[i] - x[i]) * (y[i] - x[i]);
      x2 += x[i] * x[i];
    }
    const double rel = std::sqrt(err2 / x2);
    std::printf("%s round trip: relative RMS error %.4f\n", std::string(DTypeName(dtype)).c_str(), rel);
    const double max_rel = dtype == DType::kQ2_K ? 0.6 : dtype == DType::kQ3_K ? 0.3 : dtype == DType::kQ4_K ? 0.15 : dtype == DType::kQ5_K ? 0.08 : 0.05;
    EXPECT_LT(rel, max_rel);
    // The outlier is its 16 values' largest magnitude: it maps to the scale's end exactly, up to
    // the rounding of the 6- or 8-bit scale.
    EXPECT_NEAR(y[5], 0.2f, dtype == DType::kQ2_K ? 0.05 : dtype == DType::kQ3_K ? 0.03 : dtype == DType::kQ4_K ? 0.02 : dtype == DType::kQ5_K ? 0.01 : 0.005);

    std::vector<float> zeros(kSuperBlock, 0.0f), back(kSuperBlock);
    QuantizeRow(dtype, zeros.data(), kSuperBlock, q.data());
    DequantizeRow(dtype, q.data(), kSuperBlock, back.data());
    for (float v : back) ASSERT_EQ(v, 0.0f);
    zeros[7] = std::numeric_limits<float>::infinity();
    QuantizeRow(dtype, zeros.data(), kSuperBlock, q.data());
    DequantizeRow(dtype, q.data(), kSuperBlock, back.data());
    EXPECT_TRUE(std::isnan(back[0]));
  }
}

void FillNormal(float* p, int64_t n, std::mt19937& rng, float stddev = 1.0f) {
  std::normal_distribution<float> dist(0.0f, stddev);
  for (int64_t i = 0; i < n; ++i) p[i] = dist(rng);
}

// [n, k] K-quant weights at an odd address, and their dequantized values. Q4_Kx16 / Q5_Kx16 /
// Q6_Kx16 are Q4_K / Q5_K / Q6_K repacked (n a multiple of 16); `plain` keeps the unpacked bytes for the scalar
// reference.
struct KWeights {
  std::vector<uint8_t> storage, plain_storage;
  std::vector<float> values;
  TensorView view, plain;
};

KWeights MakeKWeights(DType dtype, int64_t n, int64_t k, std::mt19937& rng) {
  const DType stored = dtype == DType::kQ4_Kx16   ? DType::kQ4_K
                       : dtype == DType::kQ5_Kx16 ? DType::kQ5_K
                       : dtype == DType::kQ6_Kx16 ? DType::kQ6_K
                                                  : dtype;
  KWeights w;
  w.values.resize(static_cast<size_t>(n * k));
  FillNormal(w.values.data(), n * k, rng, 1.0f / std::sqrt(static_cast<float>(k)));
  const uint64_t row_bytes = *BytesFor(stored, k);
  w.storage.resize(n * row_bytes + 64 + 1);
  const size_t offset = (64 - reinterpret_cast<uintptr_t>(w.storage.data()) % 64) % 64 + 1;
  uint8_t* base = w.storage.data() + offset;
  for (int64_t j = 0; j < n; ++j) {
    QuantizeRow(stored, w.values.data() + j * k, k, base + j * row_bytes);
    DequantizeRow(stored, base + j * row_bytes, k, w.values.data() + j * k);
  }
  w.plain_storage = w.storage;
  w.plain = MakeView(stored, w.plain_storage.data() + offset, {n, k});
  if (dtype == DType::kQ4_Kx16) RepackQ4_Kx16(w.plain_storage.data() + offset, n, k, base);
  if (dtype == DType::kQ5_Kx16) RepackQ5_Kx16(w.plain_storage.data() + offset, n, k, base);
  if (dtype == DType::kQ6_Kx16) RepackQ6_Kx16(w.plain_storage.data() + offset, n, k, base);
  w.view = MakeView(dtype, base, {n, k});
  return w;
}

// The K-quant weight types `kernels` multiplies by (the x16 repacks: AVX512-VNNI tables only).
std::vector<DType> KTypes(const Kernels& kernels) {
  std::vector<DType> types = {DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};
  for (DType x16 : {DType::kQ4_Kx16, DType::kQ5_Kx16, DType::kQ6_Kx16}) {
    if (kernels.SupportsWeights(x16)) types.push_back(x16);
  }
  return types;
}

// n rounded up to whole 16-row groups for the x16 layouts.
int64_t KRows(DType dtype, int64_t n) { return IsX16(dtype) ? (n + 15) / 16 * 16 : n; }

class KQuantIsaTest : public testing::IsaTest {};

const Kernels& Scalar() { return *Kernels::ForIsa(KernelIsa::kScalar); }

// Every table supports the K-quants; each matches the scalar reference (the dequantized weights, f32 x,
// double sums) within the bounds of testing::CheckQuantizedOutputs, the scalar table exactly.
TEST_P(KQuantIsaTest, MatMulMatchesScalar) {
  struct Shape {
    int64_t m, k, n;
  };
  const Shape shapes[] = {{1, 256, 1},  {1, 512, 5}, {1, 768, 17},  {2, 256, 9},   {3, 1280, 37}, {5, 2048, 13},
                          {4, 256, 64}, {7, 512, 3}, {17, 768, 40}, {67, 256, 23}, {1, 2304, 9}};
  ThreadPool pool(2);
  std::mt19937 rng(4321);
  for (DType dtype : {DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) ASSERT_TRUE(K().SupportsWeights(dtype));
  for (DType dtype : KTypes(K())) {
    testing::QuantMatMulStats stats;
    for (Shape s : shapes) {
      s.n = KRows(dtype, s.n);
      for (bool use_bias : {false, true}) {
        for (bool accumulate : {false, true}) {
          SCOPED_TRACE(::testing::Message() << DTypeName(dtype) << " m=" << s.m << " k=" << s.k << " n=" << s.n
                                          << " bias=" << use_bias << " acc=" << accumulate);
          const KWeights w = MakeKWeights(dtype, s.n, s.k, rng);
          std::vector<float> xs(s.m * s.k + 1), bias(s.n), y(s.m * s.n + 1), ref(s.m * s.n);
          float* x = xs.data() + 1;  // misaligned
          FillNormal(x, s.m * s.k, rng);
          FillNormal(bias.data(), s.n, rng);
          FillNormal(y.data() + 1, s.m * s.n, rng);
          std::memcpy(ref.data(), y.data() + 1, sizeof(float) * s.m * s.n);
          const std::vector<float> y0(ref);
          const float* b = use_bias ? bias.data() : nullptr;
          K().MatMul(pool, x, s.m, w.view, b, y.data() + 1, accumulate);
          Scalar().MatMul(pool, x, s.m, w.plain, b, ref.data(), accumulate);
          // A sub-block's terms d * sc * q and dmin * m are each at most about twice its largest |w|.
          const testing::TermMax term_max = [&](int64_t j, int64_t blk) {
            double wmax = 0.0;
            for (int64_t t = blk * 32; t < (blk + 1) * 32; ++t) wmax = std::max<double>(wmax, std::fabs(w.values[j * s.k + t]));
            return 3.0 * wmax;
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

// The scalar reference of a K-quant equals the F32 reference on the dequantized weights, bitwise.
TEST(KQuantTest, ScalarMatMulEqualsDequantizedF32) {
  std::mt19937 rng(77);
  for (DType dtype : {DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    const KWeights w = MakeKWeights(dtype, 7, 512, rng);
    testing::CheckScalarEqualsDequantizedF32(w.view, w.values.data(), rng);
  }
}

// A row of y depends only on that row of x: not on M, its index in the batch or the threads.
TEST_P(KQuantIsaTest, MatMulIsBatchInvariant) {
  std::mt19937 rng(99);
  for (DType dtype : KTypes(K())) {
    for (auto [k, n] : {std::pair<int64_t, int64_t>{768, 77}, {256, 9}}) {
      n = KRows(dtype, n);
      SCOPED_TRACE(::testing::Message() << DTypeName(dtype) << " k=" << k << " n=" << n);
      const KWeights w = MakeKWeights(dtype, n, k, rng);
      ASSERT_NO_FATAL_FAILURE(testing::CheckBatchInvariant(K(), w.view, rng));
    }
  }
}

// Q4_Kx16 / Q5_Kx16 hold the Q4_K / Q5_K bytes rearranged (quantize.h): per (group, super-block)
// record the 16 d, the 16 dmin, then 4-byte runs of the 16 rows in block order (3 of packed
// scales, Q5_K: 8 of 5th bits, 32 of nibbles); unpacking restores the matrix exactly.
TEST(KQuantTest, RepackQ4_Kx16AndQ5_Kx16LayoutAndRoundTrip) {
  struct Case {
    DType dtype;
    int64_t block_bytes;
    void (*pack)(const uint8_t*, int64_t, int64_t, uint8_t*);
    void (*unpack)(const uint8_t*, int64_t, int64_t, uint8_t*);
  };
  for (const Case& c : {Case{DType::kQ4_K, 144, &RepackQ4_Kx16, &UnpackQ4_Kx16},
                        Case{DType::kQ5_K, 176, &RepackQ5_Kx16, &UnpackQ5_Kx16}}) {
    SCOPED_TRACE(DTypeName(c.dtype));
    std::mt19937 rng(10);
    const int64_t n = 48, k = 512;  // 3 groups, 2 super-blocks
    const uint64_t bytes = *BytesFor(c.dtype, n * k);
    std::vector<uint8_t> plain(bytes), packed(bytes), back(bytes);
    for (uint8_t& b : plain) b = static_cast<uint8_t>(rng());
    c.pack(plain.data(), n, k, packed.data());
    const int64_t supers = k / 256, record = 16 * c.block_bytes, runs = (c.block_bytes - 4) / 4;
    for (int64_t row : {int64_t{0}, int64_t{17}, int64_t{47}}) {
      for (int64_t sb = 0; sb < supers; ++sb) {
        const uint8_t* blk = plain.data() + (row * supers + sb) * c.block_bytes;
        const uint8_t* rec = packed.data() + ((row / 16) * supers + sb) * record;
        const int64_t j = row % 16;
        EXPECT_EQ(std::memcmp(rec + 2 * j, blk, 2), 0) << row << " " << sb;            // d
        EXPECT_EQ(std::memcmp(rec + 32 + 2 * j, blk + 2, 2), 0) << row << " " << sb;   // dmin
        for (int64_t i = 0; i < runs; ++i) {
          EXPECT_EQ(std::memcmp(rec + 64 + 64 * i + 4 * j, blk + 4 + 4 * i, 4), 0) << row << " " << sb << " " << i;
        }
      }
    }
    c.unpack(packed.data(), n, k, back.data());
    EXPECT_EQ(back, plain);
  }
}

// Q6_Kx16: the 16 d, then per half of the super-block 4-byte runs of the 16 rows (2 of scales, 8 of
// qh, 16 of ql: runs 48-49, 32-39, 0-15 of a Q6_K block for the first half, 50-51, 40-47, 16-31 for
// the second); unpacking restores the Q6_K matrix exactly.
TEST(KQuantTest, RepackQ6_Kx16LayoutAndRoundTrip) {
  std::mt19937 rng(11);
  const int64_t n = 32, k = 512;  // 2 groups, 2 super-blocks
  const uint64_t bytes = *BytesFor(DType::kQ6_K, n * k);
  std::vector<uint8_t> q6k(bytes), packed(bytes), back(bytes);
  for (uint8_t& b : q6k) b = static_cast<uint8_t>(rng());
  RepackQ6_Kx16(q6k.data(), n, k, packed.data());
  const int64_t supers = k / 256;
  for (int64_t row : {int64_t{0}, int64_t{9}, int64_t{31}}) {
    for (int64_t sb = 0; sb < supers; ++sb) {
      const uint8_t* blk = q6k.data() + (row * supers + sb) * 210;
      const uint8_t* rec = packed.data() + ((row / 16) * supers + sb) * 3360;
      const int64_t j = row % 16;
      EXPECT_EQ(std::memcmp(rec + 2 * j, blk + 208, 2), 0) << row << " " << sb;  // d
      for (int64_t h = 0; h < 2; ++h) {
        std::vector<int64_t> order = {48 + 2 * h, 49 + 2 * h};
        for (int64_t r = 0; r < 8; ++r) order.push_back(32 + 8 * h + r);
        for (int64_t r = 0; r < 16; ++r) order.push_back(16 * h + r);
        for (int64_t i = 0; i < 26; ++i) {
          EXPECT_EQ(std::memcmp(rec + 32 + 64 * (26 * h + i) + 4 * j, blk + 4 * order[i], 4), 0)
              << row << " " << sb << " " << h << " " << i;
        }
      }
    }
  }
  UnpackQ6_Kx16(packed.data(), n, k, back.data());
  EXPECT_EQ(back, q6k);
}

INSTANTIATE_TEST_SUITE_P(AllIsas, KQuantIsaTest,
                         ::testing::ValuesIn(testing::AllIsas()), testing::IsaParamName);

}  // namespace
}  // namespace pagellm
