#include "src/kernels/quant_matmul_testutil.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/kernels/quantize.h"

namespace pagellm::testing {
namespace {

void FillNormal(float* p, int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t i = 0; i < n; ++i) p[i] = dist(rng);
}

}  // namespace

void QuantMatMulStats::Print(std::string_view isa, std::string_view dtype) const {
  std::printf(
      "[%s] MatMul %s: max abs diff vs scalar %.3g, worst error / bound: %.3f vs quantized-x "
      "reference, %.3f vs scalar\n",
      std::string(isa).c_str(), std::string(dtype).c_str(), max_abs, worst_tight, worst);
}

void CheckQuantizedOutputs(const float* x, int64_t m, int64_t k, int64_t n, const float* w, const TermMax& term_max,
                           const float* bias, const float* y0, const float* got, const float* ref, bool exact,
                           QuantMatMulStats* stats) {
  const int64_t nb = k / 32;
  std::vector<int8_t> qx(k);
  std::vector<float> dx(nb);
  for (int64_t i = 0; i < m; ++i) {
    const float* xr = x + i * k;
    QuantizeActivationRow(xr, k, qx.data(), dx.data());
    for (int64_t j = 0; j < n; ++j) {
      const double r = ref[i * n + j];
      const double g = got[i * n + j];
      if (exact) {
        ASSERT_EQ(g, r) << "at (" << i << ", " << j << ")";
        continue;
      }
      const float* wr = w + j * k;
      double act_err = 0.0, mag = 0.0, tight = 0.0, tight_mag = 0.0;
      for (int64_t b = 0; b < nb; ++b) {
        const double tmax = term_max(j, b);
        double wabs = 0.0;
        for (int64_t t = b * 32; t < (b + 1) * 32; ++t) {
          wabs += std::fabs(wr[t]);
          mag += std::fabs(static_cast<double>(wr[t]) * xr[t]);
          tight += static_cast<double>(wr[t]) * dx[b] * qx[t];
          tight_mag += (std::fabs(wr[t]) + tmax) * dx[b] * std::abs(qx[t]);
        }
        act_err += wabs * dx[b] * 0.5;
      }
      if (bias != nullptr) tight += bias[j];
      if (y0 != nullptr) tight += y0[i * n + j];
      const double tight_bound = (nb + 16) * 0x1p-23 * tight_mag + 0x1p-22 * (std::fabs(tight) + 1.0);
      const double e_tight = std::fabs(g - tight);
      ASSERT_LE(e_tight, tight_bound) << "vs quantized-x reference at (" << i << ", " << j << ")";
      stats->worst_tight = std::max(stats->worst_tight, e_tight / tight_bound);
      const double bound = act_err * 1.001 + 64 * (nb + 16) * 0x1p-23 * (mag + act_err + tight_mag) +
                           0x1p-21 * (std::fabs(r) + 1.0);
      const double e = std::fabs(g - r);
      ASSERT_LE(e, bound) << "at (" << i << ", " << j << ")";
      stats->worst = std::max(stats->worst, e / bound);
      stats->max_abs = std::max(stats->max_abs, e);
    }
  }
}

void CheckBatchInvariant(const Kernels& kernels, const TensorView& w, std::mt19937& rng) {
  const int64_t n = w.shape[0], k = w.shape[1];
  constexpr int64_t kM = 70;
  ThreadPool pool1(1), pool2(2);
  std::vector<float> x(kM * k), bias(n), full(kM * n);
  FillNormal(x.data(), kM * k, rng);
  FillNormal(bias.data(), n, rng);
  kernels.MatMul(pool1, x.data(), kM, w, bias.data(), full.data());
  for (ThreadPool* pool : {&pool1, &pool2}) {
    for (int64_t i = 0; i < kM; i += 9) {
      std::vector<float> one(n);
      kernels.MatMul(*pool, x.data() + i * k, 1, w, bias.data(), one.data());
      ASSERT_EQ(std::memcmp(one.data(), full.data() + i * n, n * sizeof(float)), 0) << "row " << i;
    }
    for (int64_t rows : {2, 3, 5, 66}) {
      const int64_t start = std::min<int64_t>(kM - rows, 1 + rows % 7);
      std::vector<float> part(rows * n);
      kernels.MatMul(*pool, x.data() + start * k, rows, w, bias.data(), part.data());
      ASSERT_EQ(std::memcmp(part.data(), full.data() + start * n, rows * n * sizeof(float)), 0)
          << rows << " rows from " << start;
    }
  }
}

void CheckScalarEqualsDequantizedF32(const TensorView& w, const float* values, std::mt19937& rng) {
  const Kernels& scalar = *Kernels::ForIsa(KernelIsa::kScalar);
  const int64_t m = 3, n = w.shape[0], k = w.shape[1];
  ThreadPool pool(1);
  std::vector<float> x(m * k), y(m * n), ref(m * n);
  FillNormal(x.data(), m * k, rng);
  scalar.MatMul(pool, x.data(), m, w, nullptr, y.data());
  scalar.MatMul(pool, x.data(), m, MakeView(DType::kF32, values, {n, k}), nullptr, ref.data());
  EXPECT_EQ(std::memcmp(y.data(), ref.data(), y.size() * 4), 0) << DTypeName(w.dtype);
}

}  // namespace pagellm::testing
