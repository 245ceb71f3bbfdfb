// Fuzzes the safetensors reader: u64 header length, the JSON header (metadata, dtypes, shapes,
// data_offsets), the tiling check, then every accessor of the tensors it accepts.
#include <cstdint>
#include <span>

#include "fuzz/fuzz_util.h"
#include "src/format/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pagellm;
  auto file = SafetensorsFile::Parse(std::span<const uint8_t>(data, size), "fuzz");
  if (!file.ok()) return 0;
  const SafetensorsFile& f = **file;
  if (f.data_offset() > size) fuzz::Fail("data offset past the end");
  uint64_t prev_end = 0;
  unsigned sum = 0;
  for (const SafetensorsTensor& t : f.tensors()) {
    if (f.Find(t.name) != &t) fuzz::Fail("Find does not return the tensor");
    if (t.begin != prev_end || t.end < t.begin) fuzz::Fail("tensors do not tile the data");
    prev_end = t.end;
    if (t.data.size() != t.end - t.begin) fuzz::Fail("data span size");
    if (static_cast<uint64_t>(t.numel()) * static_cast<uint64_t>(t.elem_bytes) != t.data.size()) {
      fuzz::Fail("byte range does not match dtype x shape");
    }
    if (!t.data.empty()) sum += t.data.front() + t.data.back();  // in bounds (ASan checks)
    (void)SafetensorsDTypeBytes(t.dtype_name);
    auto view = t.View();
    (void)view;
  }
  if (prev_end != size - f.data_offset()) fuzz::Fail("tensors do not cover the data section");
  for (const auto& [k, v] : f.metadata()) sum += static_cast<unsigned>(k.size() + v.size());
  (void)f.Find("model.embed_tokens.weight");
  (void)FindInvalidUtf8(std::string_view(reinterpret_cast<const char*>(data), size));
  return static_cast<int>(sum & 0);
}
