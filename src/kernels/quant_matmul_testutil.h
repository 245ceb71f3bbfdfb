// Checks shared by the tests of the MatMul kernels for block-quantized weights (kernels_quant_test,
// kernels_q5_test): accuracy against the scalar reference with bounds derived from the int8
// activations, bitwise batch invariance, and the scalar reference against the F32 one.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string_view>

#include "src/base/thread_pool.h"
#include "src/kernels/kernels.h"

namespace pagellm::testing {

// Worst cases of CheckQuantizedOutputs over a test, for its summary line.
struct QuantMatMulStats {
  double worst = 0.0, worst_tight = 0.0, max_abs = 0.0;
  void Print(std::string_view isa, std::string_view dtype) const;
};

// The largest |term| one weight of output row j's 32-block b adds to the kernel's sums beyond its
// own value (e.g. the d * q and m parts of d * q + m, or a K-quant's sub-block scale and min).
using TermMax = std::function<double(int64_t j, int64_t b)>;

// got [m, n] = x [m, k] times weights whose exact values are w [n, k] (+ bias, + y0 when set),
// from a table that quantizes x per 32-block (QuantizeActivationRow), checked against
//   tight: the double sum of w_t * dx_b * qx_t over the same quantized x: only f32 rounding
//          remains, bounded by the magnitudes of the terms (|w_t| + term_max per element);
//   loose: ref, the scalar reference, allowing the activation rounding (|x - dx qx| <= dx / 2 per
//          element: sum_b dx_b / 2 * sum_{t in b} |w_t|) plus f32 rounding.
// With `exact` (the scalar table itself), got must equal ref bit for bit. Fatal gtest failures;
// call through ASSERT_NO_FATAL_FAILURE.
void CheckQuantizedOutputs(const float* x, int64_t m, int64_t k, int64_t n, const float* w, const TermMax& term_max,
                           const float* bias, const float* y0, const float* got, const float* ref, bool exact,
                           QuantMatMulStats* stats);

// A row of y depends only on that row of x: not on M, its index in the batch or the threads.
// Runs `kernels` on 70 random rows of x (with a bias) whole, one by one and in slices, on 1 and
// 2 threads, and compares the bits.
void CheckBatchInvariant(const Kernels& kernels, const TensorView& w, std::mt19937& rng);

// The scalar reference on `w` equals the scalar F32 MatMul on its exact values [n, k], bitwise.
void CheckScalarEqualsDequantizedF32(const TensorView& w, const float* values, std::mt19937& rng);

}  // namespace pagellm::testing
