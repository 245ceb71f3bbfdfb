// Fuzzes the safetensors reader: u64 header length, the JSON header (metadata, dtypes, shapes,
// data_offsets), the tiling check, then every accessor of the tensors it accepts. Every 16th
// input also goes through a temporary file: SafetensorsFile::Open (mmap) and
// SafetensorsCheckpoint::Open must agree with the in-memory parse.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "fuzz/fuzz_util.h"
#include "src/format/safetensors.h"
#include "src/format/safetensors_checkpoint.h"

namespace {

void CheckFile(const uint8_t* data, size_t size, bool parsed_ok) {
  using namespace pagellm;
  static const std::string path = "/tmp/pagellm-fuzz-" + std::to_string(::getpid()) + ".safetensors";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return;
  const bool written = std::fwrite(data, 1, size, f) == size;
  std::fclose(f);
  if (!written) return;
  auto file = SafetensorsFile::Open(path);
  if (file.ok() != parsed_ok) fuzz::Fail("SafetensorsFile::Open and Parse disagree");
  auto ckpt = SafetensorsCheckpoint::Open(path);
  if (ckpt.ok() != parsed_ok) fuzz::Fail("SafetensorsCheckpoint::Open and Parse disagree");
  if (ckpt.ok()) {
    for (std::string_view name : (*ckpt)->Names()) {
      if ((*ckpt)->Find(name) == nullptr) fuzz::Fail("checkpoint cannot find its own tensor");
    }
    (void)(*ckpt)->total_bytes();
  }
  std::remove(path.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pagellm;
  auto file = SafetensorsFile::Parse(std::span<const uint8_t>(data, size), "fuzz");
  static uint64_t calls = 0;
  if (calls++ % 16 == 0) CheckFile(data, size, file.ok());
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
