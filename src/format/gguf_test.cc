// Tests of the GGUF reader and writer: round trips, the real stories260K file, and a broken-file
// suite (handcrafted headers, every truncation point, random corruption) in the spirit of
// llama.cpp's tests/test-gguf.cpp.
#include <cstring>
#include <fstream>
#include <random>
#include <tuple>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/base/half.h"
#include "src/format/byte_sink.h"
#include "src/format/gguf.h"
#include "src/format/gguf_writer.h"
#include "src/testing/testing.h"

namespace pagellm {
namespace {

using ::testing::HasSubstr;

// Raw little-endian bytes for handcrafted headers.
struct Raw {
  std::vector<uint8_t> b;
  Raw& U8(uint8_t v) { return Put(v); }
  Raw& U32(uint32_t v) { return Put(v); }
  Raw& U64(uint64_t v) { return Put(v); }
  Raw& F32(float v) { return Put(v); }
  Raw& Str(std::string_view s) {
    U64(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Raw& Zeros(size_t n) {
    b.resize(b.size() + n, 0);
    return *this;
  }
  Raw& PadTo(size_t alignment) {
    while (b.size() % alignment != 0) b.push_back(0);
    return *this;
  }
  // A KV pair: key, type, then the caller appends the value.
  Raw& Key(std::string_view key, GgufType t) { return Str(key).U32(static_cast<uint32_t>(t)); }
  // A tensor info with dims given innermost first (as stored).
  Raw& Tensor(std::string_view name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    Str(name).U32(static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) U64(d);
    return U32(type).U64(offset);
  }
  template <typename T>
  Raw& Put(T v) {
    const size_t n = b.size();
    b.resize(n + sizeof(T));
    std::memcpy(b.data() + n, &v, sizeof(T));
    return *this;
  }
};

Raw Header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
  Raw r;
  r.b = {'G', 'G', 'U', 'F'};
  return r.U32(version).U64(n_tensors).U64(n_kv);
}

StatusOr<std::unique_ptr<GgufFile>> ParseRaw(const Raw& r) { return GgufFile::Parse(r.b); }

#define EXPECT_GGUF_ERROR(expr, keyword)                                \
  do {                                                                  \
    auto _result = (expr);                                              \
    ASSERT_FALSE(_result.ok()) << "expected an error mentioning '" << (keyword) << "'"; \
    EXPECT_THAT(std::string(_result.status().message()), HasSubstr(keyword)); \
  } while (0)

std::vector<uint8_t> F32Bytes(const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * 4);
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// A valid file with one value of every metadata type and tensors of several types.
std::vector<uint8_t> MakeValidFile(uint32_t alignment = 32) {
  GgufWriter w(alignment);
  w.SetString("general.architecture", "llama");
  w.SetUint8("test.u8", 200);
  w.SetInt32("test.i32", -7);
  w.SetUint32("test.u32", 4000000000u);
  w.SetInt64("test.i64", -(int64_t{1} << 40));
  w.SetUint64("test.u64", uint64_t{1} << 50);
  w.SetFloat32("test.f32", 0.5f);
  w.SetFloat64("test.f64", 1e-300);
  w.SetBool("test.bool", true);
  const std::vector<std::string> strs = {"a", "", "héllo"};
  w.SetStringArray("test.strs", strs);
  const std::vector<float> floats = {1.5f, -2.0f};
  w.SetFloat32Array("test.f32s", floats);
  const std::vector<int32_t> ints = {3, -4, 5};
  w.SetInt32Array("test.i32s", ints);
  EXPECT_TRUE(w.AddTensor("t.f32", DType::kF32, {2, 3}).ok());
  EXPECT_TRUE(w.AddTensor("t.f16", DType::kF16, {5}).ok());
  EXPECT_TRUE(w.AddTensor("t.q8", DType::kQ8_0, {1, 32}).ok());
  std::vector<uint8_t> f32 = F32Bytes({1, 2, 3, 4, 5, 6});
  std::vector<uint8_t> f16(10);
  for (int i = 0; i < 5; ++i) {
    const uint16_t h = F32ToF16(static_cast<float>(i) * 0.25f);
    std::memcpy(f16.data() + 2 * i, &h, 2);
  }
  std::vector<uint8_t> q8(34, 7);
  auto bytes = w.Serialize({f32, f16, q8});
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return *bytes;
}

TEST(GgufWriterTest, RoundTripsEveryMetadataTypeAndTensor) {
  const std::vector<uint8_t> bytes = MakeValidFile();
  auto g = GgufFile::Parse(bytes);
  ASSERT_TRUE(g.ok()) << g.status();
  const GgufFile& f = **g;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(*f.GetString("general.architecture"), "llama");
  EXPECT_EQ(*f.GetInt("test.u8"), 200);
  EXPECT_EQ(*f.GetInt("test.i32"), -7);
  EXPECT_EQ(*f.GetInt("test.u32"), 4000000000ll);
  EXPECT_EQ(*f.GetInt("test.i64"), -(int64_t{1} << 40));
  EXPECT_EQ(*f.GetInt("test.u64"), int64_t{1} << 50);
  EXPECT_EQ(*f.GetFloat("test.f32"), 0.5);
  EXPECT_EQ(*f.GetFloat("test.f64"), 1e-300);
  EXPECT_TRUE(*f.GetBool("test.bool"));
  auto strs = f.GetStringArray("test.strs");
  ASSERT_TRUE(strs.ok());
  ASSERT_EQ(strs->size(), 3u);
  EXPECT_EQ((*strs)[0], "a");
  EXPECT_EQ((*strs)[1], "");
  EXPECT_EQ((*strs)[2], "héllo");
  EXPECT_THAT(*f.GetFloatArray("test.f32s"), ::testing::ElementsAre(1.5, -2.0));
  EXPECT_THAT(*f.GetIntArray("test.i32s"), ::testing::ElementsAre(3, -4, 5));
  // Typed getters refuse the wrong type and name the key.
  EXPECT_GGUF_ERROR(f.GetString("test.u8"), "test.u8");
  EXPECT_GGUF_ERROR(f.GetInt("test.strs"), "array of string");
  EXPECT_EQ(f.GetInt("no.such.key").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*f.GetIntOr("no.such.key", 42), 42);

  ASSERT_EQ(f.tensors().size(), 3u);
  const GgufTensorInfo* t = f.FindTensor("t.f32");
  ASSERT_NE(t, nullptr);
  EXPECT_THAT(t->shape, ::testing::ElementsAre(2, 3));
  auto v = t->View();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->dtype, DType::kF32);
  EXPECT_EQ(v->as<float>()[5], 6.0f);
  for (const auto& ti : f.tensors()) {
    EXPECT_EQ(ti.offset % 32, 0u) << ti.name;
    EXPECT_EQ((f.data_offset() + ti.offset) % 32, 0u) << ti.name;
  }
  const GgufTensorInfo* h = f.FindTensor("t.f16");
  uint16_t h3;
  std::memcpy(&h3, h->data.data() + 6, 2);
  EXPECT_EQ(F16ToF32(h3), 0.75f);
  EXPECT_EQ(f.FindTensor("t.q8")->nbytes, 34u);
}

TEST(GgufWriterTest, CustomAlignmentIsWrittenAndHonoured) {
  const std::vector<uint8_t> bytes = MakeValidFile(64);
  auto g = GgufFile::Parse(bytes);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ((*g)->alignment(), 64u);
  for (const auto& t : (*g)->tensors()) EXPECT_EQ(((*g)->data_offset() + t.offset) % 64, 0u);
}

TEST(GgufWriterTest, StreamsChunksAndChecksSizes) {
  GgufWriter w;
  ASSERT_TRUE(w.AddTensor("a", DType::kF32, {4}).ok());
  ASSERT_TRUE(w.AddTensor("b", DType::kF32, {2}).ok());
  EXPECT_FALSE(w.AddTensor("a", DType::kF32, {4}).ok());  // duplicate name
  EXPECT_FALSE(w.AddTensor("q", DType::kQ8_0, {31}).ok());  // not a whole block
  VectorSink sink;
  ASSERT_TRUE(w.Begin(&sink).ok());
  const std::vector<uint8_t> a = F32Bytes({1, 2, 3, 4});
  ASSERT_TRUE(w.Append(std::span(a).subspan(0, 5)).ok());
  ASSERT_TRUE(w.Append(std::span(a).subspan(5)).ok());
  EXPECT_FALSE(w.Finish().ok());  // "b" missing
  const std::vector<uint8_t> too_big = F32Bytes({1, 2, 3});
  EXPECT_FALSE(w.Append(too_big).ok());
  ASSERT_TRUE(w.Append(F32Bytes({5, 6})).ok());
  ASSERT_TRUE(w.Finish().ok());
  auto g = GgufFile::Parse(sink.bytes());
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ((*g)->FindTensor("b")->View()->as<float>()[1], 6.0f);
}

TEST(GgufReaderTest, ReadsStories260K) {
  PAGELLM_REQUIRE_SHARED(path, "models/stories260K/gguf/stories260K.gguf");
  auto g = GgufFile::Open(path.string());
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ((*g)->version(), 3u);
  EXPECT_EQ((*g)->tensors().size(), 48u);
  EXPECT_EQ((*g)->metadata().size(), 19u);
  EXPECT_EQ(*(*g)->GetString("general.architecture"), "llama");
  EXPECT_EQ(*(*g)->GetInt("llama.embedding_length"), 64);
  EXPECT_EQ((*(*g)->GetStringArray("tokenizer.ggml.tokens")).size(), 512u);
  const GgufTensorInfo* emb = (*g)->FindTensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_THAT(emb->shape, ::testing::ElementsAre(512, 64));
}

TEST(GgufReaderTest, OpenNamesAMissingPath) {
  EXPECT_GGUF_ERROR(GgufFile::Open("/nonexistent/dir/x.gguf"), "/nonexistent/dir/x.gguf");
}

// ---- Broken files: header --------------------------------------------------------------------

TEST(GgufBrokenTest, Header) {
  EXPECT_GGUF_ERROR(GgufFile::Parse({}), "truncated");
  Raw bad_magic;
  bad_magic.b = {'G', 'G', 'U', 'G'};
  bad_magic.U32(3).U64(0).U64(0);
  EXPECT_GGUF_ERROR(ParseRaw(bad_magic), "magic");
  EXPECT_GGUF_ERROR(ParseRaw(Header(0, 0, 0)), "version 0");
  EXPECT_GGUF_ERROR(ParseRaw(Header(0, 0, 1)), "version 1");
  EXPECT_GGUF_ERROR(ParseRaw(Header(0, 0, 4)), "version 4");
  EXPECT_GGUF_ERROR(ParseRaw(Header(0, 0, 0x03000000)), "byte-swapped");
  EXPECT_GGUF_ERROR(ParseRaw(Header(uint64_t{1} << 63, 0)), "tensor count");
  EXPECT_GGUF_ERROR(ParseRaw(Header(~uint64_t{0}, 0)), "tensor count");
  EXPECT_GGUF_ERROR(ParseRaw(Header(0, uint64_t{1} << 63)), "metadata count");
  EXPECT_GGUF_ERROR(ParseRaw(Header(0, ~uint64_t{0})), "metadata count");
  // Counts that fit the bytes but whose entries run out.
  Raw short_kv = Header(0, 2);
  short_kv.Key("a", GgufType::kUint32).U32(1).U64(5).Zeros(2);
  EXPECT_GGUF_ERROR(ParseRaw(short_kv), "string length 5");
  // An empty but valid file.
  EXPECT_TRUE(ParseRaw(Header(0, 0)).ok());
}

// ---- Broken files: metadata ------------------------------------------------------------------

TEST(GgufBrokenTest, Metadata) {
  // Key length past the end (also 2^63 and 2^64-1, which must not overflow any arithmetic).
  for (uint64_t len : {uint64_t{100}, uint64_t{1} << 63, ~uint64_t{0}}) {
    Raw r = Header(0, 1);
    r.U64(len).Zeros(20);
    EXPECT_GGUF_ERROR(ParseRaw(r), "string length");
  }
  {
    Raw r = Header(0, 1);
    r.Key("", GgufType::kUint32).U32(1);
    EXPECT_GGUF_ERROR(ParseRaw(r), "empty");
  }
  {
    Raw r = Header(0, 1);
    r.Key("k", GgufType::kString).U64(uint64_t{1} << 62).Zeros(4);
    EXPECT_GGUF_ERROR(ParseRaw(r), "string length");
  }
  for (uint32_t bad_type : {13u, 1000u, 0xffffffffu}) {
    Raw r = Header(0, 1);
    r.Key("k", static_cast<GgufType>(bad_type)).U32(0);
    EXPECT_GGUF_ERROR(ParseRaw(r), "unknown value type");
  }
  {
    Raw r = Header(0, 1);
    r.Key("k", GgufType::kArray).U32(99).U64(1).U32(0);
    EXPECT_GGUF_ERROR(ParseRaw(r), "unknown array element type");
  }
  for (uint64_t count : {uint64_t{1000}, uint64_t{1} << 62, ~uint64_t{0}}) {
    Raw r = Header(0, 1);
    r.Key("k", GgufType::kArray).U32(static_cast<uint32_t>(GgufType::kUint32)).U64(count).U32(1);
    EXPECT_GGUF_ERROR(ParseRaw(r), "runs past the end");
    Raw s = Header(0, 1);
    s.Key("k", GgufType::kArray).U32(static_cast<uint32_t>(GgufType::kString)).U64(count).Str("x");
    EXPECT_GGUF_ERROR(ParseRaw(s), "runs past the end");
  }
  {
    Raw r = Header(0, 1);
    r.Key("k", GgufType::kArray).U32(static_cast<uint32_t>(GgufType::kString)).U64(2).Str("x");
    r.U64(1000).Zeros(3);  // second string runs past the end
    EXPECT_GGUF_ERROR(ParseRaw(r), "string length");
  }
  {
    Raw r = Header(0, 1);
    r.Key("k", GgufType::kArray).U32(static_cast<uint32_t>(GgufType::kArray)).U64(1);
    r.U32(static_cast<uint32_t>(GgufType::kUint8)).U64(1).U8(0);
    EXPECT_GGUF_ERROR(ParseRaw(r), "arrays of arrays");
  }
  {
    Raw r = Header(0, 1);
    r.Key("k", GgufType::kBool).U8(2);
    EXPECT_GGUF_ERROR(ParseRaw(r), "bool");
  }
  {
    Raw r = Header(0, 1);
    r.Key("k", GgufType::kUint64).U64(~uint64_t{0});
    EXPECT_GGUF_ERROR(ParseRaw(r), "out of range");
  }
  {
    Raw r = Header(0, 2);
    r.Key("dup", GgufType::kUint32).U32(1).Key("dup", GgufType::kUint32).U32(2);
    EXPECT_GGUF_ERROR(ParseRaw(r), "duplicate metadata key 'dup'");
  }
}

TEST(GgufBrokenTest, Alignment) {
  for (uint32_t a : {0u, 13u, 48u, 1u << 31}) {
    Raw r = Header(0, 1);
    r.Key("general.alignment", GgufType::kUint32).U32(a);
    EXPECT_GGUF_ERROR(ParseRaw(r), "general.alignment");
  }
  Raw r = Header(0, 1);
  r.Key("general.alignment", GgufType::kInt32).U32(32);
  EXPECT_GGUF_ERROR(ParseRaw(r), "uint32");
  Raw ok = Header(0, 1);
  ok.Key("general.alignment", GgufType::kUint32).U32(1);
  EXPECT_TRUE(ParseRaw(ok).ok());
}

// ---- Broken files: tensor infos and data -----------------------------------------------------

// A file with one F32 tensor described by the given info bytes, followed by `data_bytes` of data.
Raw OneTensor(std::vector<uint64_t> ne, uint32_t type, uint64_t offset, size_t data_bytes,
              std::string_view name = "t") {
  Raw r = Header(1, 0);
  r.Tensor(name, std::move(ne), type, offset).PadTo(32).Zeros(data_bytes);
  return r;
}

TEST(GgufBrokenTest, TensorInfos) {
  EXPECT_TRUE(ParseRaw(OneTensor({4, 2}, 0, 0, 32)).ok());
  {
    Raw r = Header(1, 0);
    r.Tensor("", {4}, 0, 0).PadTo(32).Zeros(16);
    EXPECT_GGUF_ERROR(ParseRaw(r), "empty name");
  }
  {
    Raw r = Header(1, 0);
    r.U64(~uint64_t{0}).Zeros(40);
    EXPECT_GGUF_ERROR(ParseRaw(r), "string length");
  }
  for (uint32_t n_dims : {0u, 5u, 0xffffffffu}) {
    Raw r = Header(1, 0);
    r.Str("t").U32(n_dims).Zeros(64);
    EXPECT_GGUF_ERROR(ParseRaw(r), "dimensions");
  }
  EXPECT_GGUF_ERROR(ParseRaw(OneTensor({4, 0}, 0, 0, 32)), "invalid dimension 1 = 0");
  EXPECT_GGUF_ERROR(ParseRaw(OneTensor({uint64_t{1} << 63}, 0, 0, 32)), "invalid dimension");
  EXPECT_GGUF_ERROR(ParseRaw(OneTensor({uint64_t{1} << 32, uint64_t{1} << 32}, 0, 0, 32)),
                    "element count overflows");
  EXPECT_GGUF_ERROR(ParseRaw(OneTensor({uint64_t{1} << 62, 2}, 0, 0, 32)),
                    "element count overflows");
  // I64 elements: the element count fits but the byte size does not.
  EXPECT_GGUF_ERROR(ParseRaw(OneTensor({uint64_t{1} << 62}, 27, 0, 32)), "byte size overflows");
  for (uint32_t type : {4u, 5u, 1000u}) {
    EXPECT_GGUF_ERROR(ParseRaw(OneTensor({4}, type, 0, 32)), "unknown ggml type");
  }
  EXPECT_GGUF_ERROR(ParseRaw(OneTensor({33}, 8, 0, 64)), "block size");
  EXPECT_GGUF_ERROR(ParseRaw(OneTensor({4}, 0, 16, 64)), "alignment");
  EXPECT_GGUF_ERROR(ParseRaw(OneTensor({4}, 0, 32, 40)), "past the end");
  EXPECT_GGUF_ERROR(ParseRaw(OneTensor({64}, 0, 0, 255)), "past the end");
  EXPECT_GGUF_ERROR(ParseRaw(OneTensor({4}, 0, uint64_t{1} << 63, 64)), "past the end");
  EXPECT_GGUF_ERROR(ParseRaw(OneTensor({4}, 0, ~uint64_t{31}, 64)), "past the end");
  // Header complete but the data section is missing altogether.
  EXPECT_GGUF_ERROR(ParseRaw(Header(1, 0).Tensor("t", {4}, 0, 0)), "truncated");
  {
    // Two huge tensors whose sizes overflow when added (llama.cpp's DATA_MEM_SIZE_OVERFLOW).
    Raw r = Header(2, 0);
    r.Tensor("a", {0x7FFFFFFFFFFFFFC0}, 24, 0).Tensor("b", {0x7FFFFFFFFFFFFFC0}, 24, 0);
    r.PadTo(32).Zeros(64);
    EXPECT_GGUF_ERROR(ParseRaw(r), "past the end");
  }
  {
    Raw r = Header(2, 0);
    r.Tensor("same", {4}, 0, 0).Tensor("same", {4}, 0, 32).PadTo(32).Zeros(64);
    EXPECT_GGUF_ERROR(ParseRaw(r), "duplicate tensor name 'same'");
  }
  {
    Raw r = Header(2, 0);
    r.Tensor("a", {16}, 0, 0).Tensor("b", {4}, 0, 32).PadTo(32).Zeros(64);
    EXPECT_GGUF_ERROR(ParseRaw(r), "overlap");
  }
}

TEST(GgufBrokenTest, UnsupportedTypeIsRefusedAtUse) {
  const Raw raw = OneTensor({256}, 16, 0, 66);  // the parsed file views these bytes
  auto g = ParseRaw(raw);  // IQ2_XXS parses...
  ASSERT_TRUE(g.ok()) << g.status();
  auto v = (*g)->FindTensor("t")->View();  // ...but pagellm does not compute with it
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("IQ2_XXS"));
}

// Q2_K (10), Q3_K (11), Q4_K (12), Q5_K (13) and Q6_K (14) are read as they are: one 256-value
// super-block of 84 / 110 / 144 / 176 / 210 bytes; ids map both ways.
TEST(GgufTest, KQuantTensorsView) {
  for (auto [type, bytes, dtype] : {std::tuple{10u, 84, DType::kQ2_K}, std::tuple{11u, 110, DType::kQ3_K},
                                    std::tuple{12u, 144, DType::kQ4_K}, std::tuple{13u, 176, DType::kQ5_K},
                                    std::tuple{14u, 210, DType::kQ6_K}}) {
    SCOPED_TRACE(DTypeName(dtype));
    ASSERT_EQ(DTypeFromGgml(type), dtype);
    EXPECT_EQ(GgmlFromDType(dtype), type);
    EXPECT_EQ(Info(dtype).block_bytes, bytes);
    EXPECT_EQ(GgmlType(type).block_bytes, bytes);
    const Raw raw = OneTensor({256}, type, 0, bytes);
    auto g = ParseRaw(raw);
    ASSERT_TRUE(g.ok()) << g.status();
    auto v = (*g)->FindTensor("t")->View();
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->dtype, dtype);
    EXPECT_EQ(v->nbytes(), static_cast<uint64_t>(bytes));
  }
}

// Q4_1 (3), Q5_0 (6), Q5_1 (7) and IQ4_NL (20): 32-value blocks of 20 / 22 / 24 / 18 bytes, read
// as they are; ids map both ways; a tensor whose data is a byte short, or whose rows are not whole
// blocks, is an error, not a crash.
TEST(GgufTest, Q41Q50Q51TensorsView) {
  for (auto [type, bytes, dtype] : {std::tuple{3u, 20, DType::kQ4_1}, std::tuple{6u, 22, DType::kQ5_0},
                                    std::tuple{7u, 24, DType::kQ5_1}, std::tuple{20u, 18, DType::kIQ4_NL}}) {
    SCOPED_TRACE(DTypeName(dtype));
    ASSERT_EQ(DTypeFromGgml(type), dtype);
    EXPECT_EQ(GgmlFromDType(dtype), type);
    EXPECT_EQ(Info(dtype).block_bytes, bytes);
    EXPECT_EQ(Info(dtype).block_elems, 32);
    EXPECT_EQ(GgmlType(type).block_bytes, bytes);
    // Two rows of three blocks.
    const Raw raw = OneTensor({96, 2}, type, 0, 6 * static_cast<size_t>(bytes));
    auto g = ParseRaw(raw);
    ASSERT_TRUE(g.ok()) << g.status();
    auto v = (*g)->FindTensor("t")->View();
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->dtype, dtype);
    EXPECT_EQ(v->nbytes(), 6u * bytes);
    EXPECT_EQ(v->row_bytes(), 3u * bytes);
    // One byte short of the last block.
    EXPECT_GGUF_ERROR(ParseRaw(OneTensor({96, 2}, type, 0, 6 * static_cast<size_t>(bytes) - 1)), "past the end");
    // A row that is not whole blocks.
    EXPECT_GGUF_ERROR(ParseRaw(OneTensor({48, 2}, type, 0, 6 * static_cast<size_t>(bytes))), "block size 32");
  }
}

TEST(GgufBrokenTest, WriterDuplicatesPatchedIn) {
  // Valid files made by the writer, then corrupted: duplicate key and duplicate tensor name.
  GgufWriter w;
  w.SetUint32("key.one", 1);
  w.SetUint32("key.two", 2);
  ASSERT_TRUE(w.AddTensor("tensor_a", DType::kF32, {4}).ok());
  ASSERT_TRUE(w.AddTensor("tensor_b", DType::kF32, {4}).ok());
  const std::vector<uint8_t> zeros(16, 0);
  auto bytes = w.Serialize({zeros, zeros});
  ASSERT_TRUE(bytes.ok());
  ASSERT_TRUE(GgufFile::Parse(*bytes).ok());
  auto patch = [](std::vector<uint8_t> b, std::string_view from, std::string_view to) {
    auto it = std::search(b.begin(), b.end(), from.begin(), from.end());
    EXPECT_NE(it, b.end());
    std::copy(to.begin(), to.end(), it);
    return b;
  };
  EXPECT_GGUF_ERROR(GgufFile::Parse(patch(*bytes, "key.two", "key.one")), "duplicate metadata key");
  EXPECT_GGUF_ERROR(GgufFile::Parse(patch(*bytes, "tensor_b", "tensor_a")), "duplicate tensor name");
}

// Every prefix of a valid file that cuts into its header or tensor data must be refused (an
// error, never a crash); the file itself parses.
TEST(GgufBrokenTest, TruncationAtEveryOffset) {
  const std::vector<uint8_t> bytes = MakeValidFile();
  auto full = GgufFile::Parse(bytes);
  ASSERT_TRUE(full.ok()) << full.status();
  uint64_t data_end = 0;
  for (const auto& t : (*full)->tensors()) {
    data_end = std::max(data_end, (*full)->data_offset() + t.offset + t.nbytes);
  }
  ASSERT_GT(data_end, 300u);
  for (uint64_t n = 0; n < data_end; ++n) {
    // A fresh heap copy of exactly n bytes so ASan sees any read past the end.
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
    auto g = GgufFile::Parse(prefix);
    ASSERT_FALSE(g.ok()) << "prefix of " << n << " bytes was accepted";
    const std::string msg(g.status().message());
    EXPECT_TRUE(msg.find("truncated") != std::string::npos ||
                msg.find("past the end") != std::string::npos ||
                msg.find("larger than the file") != std::string::npos)
        << "prefix " << n << ": " << msg;
  }
}

// Random byte corruption: parsing must return (ok or an error), never crash or read out of bounds.
TEST(GgufBrokenTest, RandomCorruptionNeverCrashes) {
  const std::vector<uint8_t> bytes = MakeValidFile();
  std::mt19937 rng(1234);
  int errors = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> b = bytes;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      // Mostly the header, where the structure lives.
      const size_t pos = rng() % (iter % 4 == 0 ? b.size() : std::min<size_t>(b.size(), 400));
      b[pos] = static_cast<uint8_t>(rng());
    }
    auto g = GgufFile::Parse(b);
    if (!g.ok()) {
      ++errors;
      EXPECT_FALSE(g.status().message().empty());
    } else {
      for (const auto& t : (*g)->tensors()) {
        ASSERT_LE(t.data.data() + t.data.size(), b.data() + b.size());
      }
    }
  }
  EXPECT_GT(errors, 100);
}

}  // namespace
}  // namespace pagellm
