// The fixture of the per-ISA kernel tests: parameterized by KernelIsa, skipped with a message where
// the CPU lacks that table; K() is the table under test.
#pragma once

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/kernels/kernels.h"

namespace pagellm::testing {

class IsaTest : public ::testing::TestWithParam<KernelIsa> {
 protected:
  void SetUp() override {
    kernels_ = Kernels::ForIsa(GetParam());
    if (kernels_ == nullptr) GTEST_SKIP() << KernelIsaName(GetParam()) << " not available on this CPU";
  }
  const Kernels& K() const { return *kernels_; }
  const Kernels* kernels_ = nullptr;
};

// Every table, for INSTANTIATE_TEST_SUITE_P(..., ::testing::ValuesIn(AllIsas()), IsaParamName).
inline std::vector<KernelIsa> AllIsas() {
  return {KernelIsa::kScalar, KernelIsa::kAvx2, KernelIsa::kAvx512, KernelIsa::kAvx512Bf16};
}

// Test names by table ("scalar", "avx2", ...).
inline std::string IsaParamName(const ::testing::TestParamInfo<KernelIsa>& info) {
  return std::string(KernelIsaName(info.param));
}

}  // namespace pagellm::testing
