// Tests of the safetensors reader, writer and sharded checkpoints, including a broken-file suite.
#include <cstring>
#include <fstream>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/base/half.h"
#include "src/format/byte_sink.h"
#include "src/format/safetensors.h"
#include "src/format/safetensors_checkpoint.h"
#include "src/format/safetensors_writer.h"
#include "src/testing/testing.h"

namespace pagellm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

#define EXPECT_ST_ERROR(expr, keyword)                                                 \
  do {                                                                                 \
    auto _result = (expr);                                                             \
    ASSERT_FALSE(_result.ok()) << "expected an error mentioning '" << (keyword) << "'"; \
    EXPECT_THAT(std::string(_result.status().message()), HasSubstr(keyword));          \
  } while (0)

// A file from a literal header and `data_bytes` bytes of data.
std::vector<uint8_t> Handmade(std::string_view header, size_t data_bytes) {
  std::vector<uint8_t> b(8);
  const uint64_t n = header.size();
  std::memcpy(b.data(), &n, 8);
  b.insert(b.end(), header.begin(), header.end());
  b.resize(b.size() + data_bytes, 0x11);
  return b;
}

StatusOr<std::unique_ptr<SafetensorsFile>> ParseHandmade(std::string_view header, size_t data) {
  // The bytes must outlive only the call (the errors are what is checked).
  static std::vector<uint8_t> keep;
  keep = Handmade(header, data);
  return SafetensorsFile::Parse(keep);
}

std::vector<uint8_t> F32Bytes(const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * 4);
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

std::vector<uint8_t> MakeValidFile() {
  SafetensorsWriter w;
  w.SetMetadata("format", "pt");
  EXPECT_TRUE(w.AddTensor("a.f32", DType::kF32, {2, 3}).ok());
  EXPECT_TRUE(w.AddTensor("b.bf16", DType::kBF16, {3}).ok());
  EXPECT_TRUE(w.AddTensor("c.i64", "I64", {2}).ok());
  EXPECT_TRUE(w.AddTensor("d.empty", DType::kF32, {0, 4}).ok());
  EXPECT_TRUE(w.AddTensor("e.f16", DType::kF16, {1, 1, 2}).ok());
  std::vector<uint8_t> bf16(6);
  for (int i = 0; i < 3; ++i) {
    const uint16_t h = F32ToBf16(static_cast<float>(i + 1));
    std::memcpy(bf16.data() + 2 * i, &h, 2);
  }
  std::vector<uint8_t> i64(16, 0);
  i64[0] = 9;
  std::vector<uint8_t> f16(4);
  for (int i = 0; i < 2; ++i) {
    const uint16_t h = F32ToF16(-0.5f * static_cast<float>(i));
    std::memcpy(f16.data() + 2 * i, &h, 2);
  }
  auto bytes = w.Serialize({F32Bytes({1, 2, 3, 4, 5, 6}), bf16, i64, {}, f16});
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return *bytes;
}

TEST(SafetensorsTest, WriterOutputRoundTrips) {
  const std::vector<uint8_t> bytes = MakeValidFile();
  uint64_t header_len;
  std::memcpy(&header_len, bytes.data(), 8);
  EXPECT_EQ((8 + header_len) % 8, 0u) << "data section must start 8-aligned";
  auto f = SafetensorsFile::Parse(bytes);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
  ASSERT_EQ((*f)->tensors().size(), 5u);
  const SafetensorsTensor* a = (*f)->Find("a.f32");
  ASSERT_NE(a, nullptr);
  EXPECT_THAT(a->shape, ElementsAre(2, 3));
  auto v = a->View();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->ShapeString(), "[2, 3]");
  EXPECT_EQ(v->as<float>()[4], 5.0f);
  auto b = (*f)->Find("b.bf16")->View();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->dtype, DType::kBF16);
  EXPECT_EQ(Bf16ToF32(b->as<uint16_t>()[2]), 3.0f);
  auto e = (*f)->Find("e.f16")->View();
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(F16ToF32(e->as<uint16_t>()[1]), -0.5f);
  EXPECT_EQ((*f)->Find("d.empty")->data.size(), 0u);
  // Parsed, but refused at use with a clear error.
  const SafetensorsTensor* c = (*f)->Find("c.i64");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->data[0], 9);
  EXPECT_ST_ERROR(c->View(), "I64");
  EXPECT_EQ((*f)->Find("nope"), nullptr);
}

TEST(SafetensorsTest, ReadsStories260K) {
  PAGELLM_REQUIRE_SHARED(path, "models/stories260K/hf/model.safetensors");
  auto f = SafetensorsFile::Open(path.string());
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->tensors().size(), 47u);
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
  EXPECT_THAT((*f)->Find("model.embed_tokens.weight")->shape, ElementsAre(512, 64));
  EXPECT_THAT((*f)->Find("model.layers.4.mlp.down_proj.weight")->shape, ElementsAre(64, 172));
}

// ---- Broken files ----------------------------------------------------------------------------

TEST(SafetensorsBrokenTest, HeaderLength) {
  EXPECT_ST_ERROR(SafetensorsFile::Parse({}), "truncated");
  std::vector<uint8_t> b(64, ' ');
  uint64_t len = ~uint64_t{0};
  std::memcpy(b.data(), &len, 8);
  EXPECT_ST_ERROR(SafetensorsFile::Parse(b), "header length 18446744073709551615");
  len = 57;  // 56 bytes follow
  std::memcpy(b.data(), &len, 8);
  EXPECT_ST_ERROR(SafetensorsFile::Parse(b), "larger than the file");
  len = SafetensorsFile::kMaxHeaderBytes + 1;
  std::memcpy(b.data(), &len, 8);
  EXPECT_ST_ERROR(SafetensorsFile::Parse(b), "exceeds the limit");
  EXPECT_ST_ERROR(SafetensorsFile::Open("/nonexistent/model.safetensors"),
                  "/nonexistent/model.safetensors");
}

TEST(SafetensorsBrokenTest, HeaderText) {
  EXPECT_ST_ERROR(ParseHandmade("{\"a\xff\": 1}", 0), "UTF-8");
  EXPECT_ST_ERROR(ParseHandmade("{\"\xc0\x80\": 1}", 0), "UTF-8");        // overlong
  EXPECT_ST_ERROR(ParseHandmade("{\"\xed\xa0\x80\": 1}", 0), "UTF-8");    // surrogate
  EXPECT_ST_ERROR(ParseHandmade("{\"a\": {\"dtype\": ", 0), "not valid JSON");
  EXPECT_ST_ERROR(ParseHandmade("not json at all", 0), "not valid JSON");
  EXPECT_ST_ERROR(ParseHandmade("[1, 2]", 0), "not an object");
  EXPECT_ST_ERROR(ParseHandmade("{\"t\": 5}", 0), "not an object");
  EXPECT_ST_ERROR(ParseHandmade("{\"t\": [1]}", 0), "not an object");
  EXPECT_ST_ERROR(ParseHandmade(std::string(50, '[') + std::string(50, ']'), 0), "nests deeper");
  EXPECT_ST_ERROR(ParseHandmade("{\"__metadata__\": [1]}", 0), "__metadata__");
  EXPECT_ST_ERROR(ParseHandmade("{\"__metadata__\": {\"k\": 3}}", 0), "__metadata__ value 'k'");
  // Only metadata, no tensors: valid (an empty model).
  EXPECT_TRUE(ParseHandmade("{\"__metadata__\": {\"k\": \"v\"}}", 0).ok());
}

TEST(SafetensorsBrokenTest, Entries) {
  EXPECT_ST_ERROR(ParseHandmade(R"({"t": {"shape": [1], "data_offsets": [0, 4]}})", 4), "dtype");
  EXPECT_ST_ERROR(ParseHandmade(R"({"t": {"dtype": "F12", "shape": [1], "data_offsets": [0, 4]}})", 4),
                  "unknown dtype");
  EXPECT_ST_ERROR(ParseHandmade(R"({"t": {"dtype": "F32", "data_offsets": [0, 4]}})", 4), "shape");
  EXPECT_ST_ERROR(ParseHandmade(R"({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4),
                  "negative");
  EXPECT_ST_ERROR(ParseHandmade(R"({"t": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})", 4),
                  "not an integer");
  EXPECT_ST_ERROR(ParseHandmade(R"({"t": {"dtype": "F32", "shape": [18446744073709551616], "data_offsets": [0, 4]}})", 4),
                  "not an integer");
  EXPECT_ST_ERROR(ParseHandmade(R"({"t": {"dtype": "F32", "shape": [9223372036854775808], "data_offsets": [0, 4]}})", 4),
                  "overflows");
  EXPECT_ST_ERROR(ParseHandmade(R"({"t": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}})", 4),
                  "overflows");
  EXPECT_ST_ERROR(ParseHandmade(R"({"t": {"dtype": "F64", "shape": [2305843009213693952], "data_offsets": [0, 4]}})", 4),
                  "overflows");
  EXPECT_ST_ERROR(ParseHandmade(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", 4),
                  "data_offsets");
  EXPECT_ST_ERROR(ParseHandmade(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, -4]}})", 4),
                  "negative");
  // dtype x shape disagreeing with the byte range.
  EXPECT_ST_ERROR(ParseHandmade(R"({"t": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}})", 12),
                  "byte size mismatch");
  EXPECT_ST_ERROR(ParseHandmade(R"({"t": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 16]}})", 16),
                  "byte size mismatch");
  EXPECT_ST_ERROR(ParseHandmade(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})", 8),
                  "out of order");
  EXPECT_ST_ERROR(ParseHandmade(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "t": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", 8),
                  "duplicate name 't'");
  EXPECT_ST_ERROR(ParseHandmade(R"({"t": {"dtype": "F32", "dtype": "F16", "shape": [1], "data_offsets": [0, 4]}})", 4),
                  "duplicate");
}

TEST(SafetensorsBrokenTest, Layout) {
  // Valid: two tensors tiling 8 bytes, in either JSON order.
  EXPECT_TRUE(ParseHandmade(R"({"b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", 8).ok());
  EXPECT_ST_ERROR(ParseHandmade(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", 8),
                  "overlap");
  EXPECT_ST_ERROR(ParseHandmade(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})", 12),
                  "gap");
  EXPECT_ST_ERROR(ParseHandmade(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", 8), "gap");
  EXPECT_ST_ERROR(ParseHandmade(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", 9), "gap");
  EXPECT_ST_ERROR(ParseHandmade(R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 12),
                  "past the end");
  EXPECT_ST_ERROR(ParseHandmade(R"({"a": {"dtype": "U8", "shape": [1], "data_offsets": [18446744073709551614, 18446744073709551615]}})", 1),
                  "past the end");
}

TEST(SafetensorsBrokenTest, TruncationAtEveryOffset) {
  const std::vector<uint8_t> bytes = MakeValidFile();
  ASSERT_TRUE(SafetensorsFile::Parse(bytes).ok());
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
    auto f = SafetensorsFile::Parse(prefix);
    ASSERT_FALSE(f.ok()) << "prefix of " << n << " bytes was accepted";
  }
}

TEST(SafetensorsBrokenTest, RandomCorruptionNeverCrashes) {
  const std::vector<uint8_t> bytes = MakeValidFile();
  uint64_t header_len;
  std::memcpy(&header_len, bytes.data(), 8);
  std::mt19937 rng(99);
  int errors = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> b = bytes;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < flips; ++k) {
      const size_t pos = iter % 8 == 0 ? rng() % 8 : 8 + rng() % header_len;
      b[pos] = iter % 2 ? static_cast<uint8_t>(rng()) : static_cast<uint8_t>("0123456789[]{}\",:-"[rng() % 18]);
    }
    auto f = SafetensorsFile::Parse(b);
    if (!f.ok()) {
      ++errors;
    } else {
      for (const auto& t : (*f)->tensors()) {
        ASSERT_LE(t.data.data() + t.data.size(), b.data() + b.size());
      }
    }
  }
  EXPECT_GT(errors, 1000);
}

// ---- Sharded checkpoints ---------------------------------------------------------------------

void WriteFile(const std::filesystem::path& p, std::span<const uint8_t> bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}
void WriteText(const std::filesystem::path& p, std::string_view text) {
  WriteFile(p, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

std::vector<uint8_t> OneTensorFile(const std::string& name, float value) {
  SafetensorsWriter w;
  EXPECT_TRUE(w.AddTensor(name, DType::kF32, {1}).ok());
  return *w.Serialize({F32Bytes({value})});
}

TEST(SafetensorsCheckpointTest, OpensShardsThroughTheIndex) {
  testing::TempDir dir;
  WriteFile(dir / "model-00001-of-00002.safetensors", OneTensorFile("x", 1.0f));
  WriteFile(dir / "model-00002-of-00002.safetensors", OneTensorFile("y", 2.0f));
  WriteText(dir / "model.safetensors.index.json",
            R"({"metadata": {"total_size": 8}, "weight_map": {
                 "x": "model-00001-of-00002.safetensors",
                 "y": "model-00002-of-00002.safetensors"}})");
  for (const auto& p : {dir.path(), dir / "model.safetensors.index.json"}) {
    auto c = SafetensorsCheckpoint::Open(p.string());
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ((*c)->files().size(), 2u);
    EXPECT_THAT((*c)->Names(), ElementsAre("x", "y"));
    EXPECT_EQ((*c)->Find("y")->View()->as<float>()[0], 2.0f);
  }
}

TEST(SafetensorsCheckpointTest, SingleFileFolder) {
  testing::TempDir dir;
  WriteFile(dir / "model.safetensors", OneTensorFile("x", 3.0f));
  auto c = SafetensorsCheckpoint::Open(dir.path().string());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->Find("x")->View()->as<float>()[0], 3.0f);
  testing::TempDir empty;
  EXPECT_ST_ERROR(SafetensorsCheckpoint::Open(empty.path().string()), "holds neither");
}

TEST(SafetensorsCheckpointTest, BrokenIndexes) {
  testing::TempDir dir;
  WriteFile(dir / "a.safetensors", OneTensorFile("x", 1.0f));
  {
    SafetensorsWriter w;  // b holds "x" too (a duplicate) besides "y"
    ASSERT_TRUE(w.AddTensor("x", DType::kF32, {1}).ok());
    ASSERT_TRUE(w.AddTensor("y", DType::kF32, {1}).ok());
    WriteFile(dir / "b.safetensors", *w.Serialize({F32Bytes({2.0f}), F32Bytes({3.0f})}));
  }
  const auto index = dir / "model.safetensors.index.json";
  auto open = [&](std::string_view text) {
    WriteText(index, text);
    return SafetensorsCheckpoint::Open(dir.path().string());
  };
  EXPECT_ST_ERROR(open("{not json"), "not valid JSON");
  EXPECT_ST_ERROR(open(R"({"metadata": {}})"), "weight_map");
  EXPECT_ST_ERROR(open(R"({"weight_map": {}})"), "empty");
  EXPECT_ST_ERROR(open(R"({"weight_map": {"x": 5}})"), "not a string");
  EXPECT_ST_ERROR(open(R"({"weight_map": {"x": "../a.safetensors"}})"), "plain file name");
  EXPECT_ST_ERROR(open(R"({"weight_map": {"x": "missing.safetensors"}})"), "missing.safetensors");
  EXPECT_ST_ERROR(open(R"({"weight_map": {"y": "a.safetensors"}})"), "does not hold it");
  EXPECT_ST_ERROR(open(R"({"weight_map": {"x": "a.safetensors", "y": "b.safetensors"}})"),
                  "duplicate tensor name 'x'");
  ASSERT_TRUE(open(R"({"weight_map": {"x": "a.safetensors"}})").ok());
}

}  // namespace
}  // namespace pagellm
