// Tests for base: half-float conversions, byte reader bounds, thread pool coverage, mmap.
#include <immintrin.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <vector>

#include "gtest/gtest.h"
#include "src/base/byte_reader.h"
#include "src/base/half.h"
#include "src/base/mapped_file.h"
#include "src/testing/testing.h"
#include "src/base/thread_pool.h"

namespace pagellm {
namespace {

// Reference for f16 is the hardware converter (F16C), compiled for that one function.
__attribute__((target("f16c"))) uint16_t HwF32ToF16(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}
__attribute__((target("f16c"))) float HwF16ToF32(uint16_t h) { return _cvtsh_ss(h); }

TEST(HalfTest, F16RoundTripsEveryValue) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "no F16C on this CPU";
  for (uint32_t h = 0; h < 65536; ++h) {
    const float ours = F16ToF32(static_cast<uint16_t>(h));
    const float hw = HwF16ToF32(static_cast<uint16_t>(h));
    if (std::isnan(hw)) {
      ASSERT_TRUE(std::isnan(ours)) << h;
      continue;
    }
    ASSERT_EQ(ours, hw) << h;
    ASSERT_EQ(F32ToF16(ours), h) << h;
  }
}

TEST(HalfTest, F32ToF16MatchesHardwareRounding) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "no F16C on this CPU";
  // Every 97th f32 bit pattern: covers normals, subnormals, overflow and ties.
  for (uint64_t bits = 0; bits < (1ull << 32); bits += 97) {
    float f;
    const uint32_t b = static_cast<uint32_t>(bits);
    std::memcpy(&f, &b, 4);
    if (std::isnan(f)) continue;
    ASSERT_EQ(F32ToF16(f), HwF32ToF16(f)) << std::hex << b;
  }
}

TEST(HalfTest, Bf16RoundsToNearestEven) {
  EXPECT_EQ(F32ToBf16(1.0f), 0x3f80);
  EXPECT_EQ(Bf16ToF32(0x3f80), 1.0f);
  // 1 + 2^-8 is exactly halfway between two bf16 values: ties go to even (1.0).
  EXPECT_EQ(F32ToBf16(1.0f + 1.0f / 256), 0x3f80);
  EXPECT_EQ(F32ToBf16(1.0f + 3.0f / 256), 0x3f82);
  EXPECT_TRUE(std::isnan(Bf16ToF32(F32ToBf16(NAN))));
}

TEST(ByteReaderTest, RefusesToReadPastTheEnd) {
  const uint8_t data[6] = {1, 0, 0, 0, 2, 0};
  ByteReader r(data);
  uint32_t a = 0;
  ASSERT_TRUE(r.Read(&a, "a").ok());
  EXPECT_EQ(a, 1u);
  uint32_t b = 0;
  Status s = r.Read(&b, "field b");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("field b"), std::string::npos);
  EXPECT_EQ(r.offset(), 4u);  // a failed read does not move
  std::span<const uint8_t> view;
  EXPECT_FALSE(r.ReadBytes(UINT64_MAX, &view, "huge").ok());
  EXPECT_FALSE(r.Seek(7, "seek").ok());
  EXPECT_TRUE(r.Seek(6, "seek").ok());
}

TEST(ThreadPoolTest, RunsEveryTaskExactlyOnce) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.num_threads(), threads);
    for (int round = 0; round < 200; ++round) {
      const int n = 1 + round % 37;
      std::vector<std::atomic<int>> hits(n);
      pool.Run(n, [&](int64_t t) { hits[t].fetch_add(1); });
      for (int i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "threads " << threads;
    }
  }
}

TEST(ThreadPoolTest, ParallelForCoversRangeWithAlignedChunks) {
  ThreadPool pool(3);
  for (int64_t n : {1, 7, 64, 1000, 4099}) {
    std::vector<std::atomic<int>> hits(n);
    pool.ParallelFor(n, 1, 16, [&](int64_t b, int64_t e) {
      EXPECT_EQ(b % 16, 0);
      for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1);
  }
}

TEST(MappedFileTest, MapsContentsAndReportsMissingFiles) {
  testing::TempDir dir;
  const auto path = dir / "x.bin";
  std::ofstream(path, std::ios::binary) << "hello";
  auto f = MappedFile::Open(path.string());
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->size(), 5u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>((*f)->data()), 5), "hello");
  auto missing = MappedFile::Open((dir / "nope").string());
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);
  EXPECT_FALSE(MappedFile::Open(dir.path().string()).ok());  // a directory
}

}  // namespace
}  // namespace pagellm
