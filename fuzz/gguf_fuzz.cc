// Fuzzes the GGUF reader (header, metadata, tensor infos, alignment, data ranges), every typed
// getter on every key, tensor views, and the GGUF tokenizer loader (llama / gpt2 / bert
// vocabularies) with a short encode + decode when it loads.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "src/format/gguf.h"
#include "src/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pagellm;
  auto parsed = GgufFile::Parse(std::span<const uint8_t>(data, size));
  if (!parsed.ok()) return 0;
  const GgufFile& g = **parsed;
  if (!g.tensors().empty() && g.data_offset() > size) fuzz::Fail("data offset past the end");
  for (const auto& [key, value] : g.metadata()) {
    if (g.Find(key) != &value) fuzz::Fail("Find does not return the value");
    (void)g.GetInt(key);
    (void)g.GetFloat(key);
    (void)g.GetBool(key);
    (void)g.GetString(key);
    (void)g.GetStringArray(key);
    (void)g.GetFloatArray(key);
    (void)g.GetIntArray(key);
    (void)g.GetIntOr(key, 0);
    (void)g.GetFloatOr(key, 0);
    (void)g.GetBoolOr(key, false);
    (void)GgufTypeName(value.type);
  }
  unsigned sum = 0;
  for (const GgufTensorInfo& t : g.tensors()) {
    if (g.FindTensor(t.name) != &t) fuzz::Fail("FindTensor does not return the tensor");
    if (t.data.size() != t.nbytes) fuzz::Fail("tensor data size");
    if (!t.data.empty()) sum += t.data.front() + t.data.back();  // in bounds (ASan checks)
    (void)GgmlType(t.ggml_type);
    (void)DTypeFromGgml(t.ggml_type);
    auto view = t.View();
    (void)view;
  }

  auto tok = Tokenizer::FromGguf(g);
  if (!tok.ok()) return static_cast<int>(sum & 0);
  const Tokenizer& t = **tok;
  for (const char* text : {"Hello world! <s> 123", " \n\t héllo 日本語 🙂", ""}) {
    for (bool special : {false, true}) {
      auto ids = t.Encode(text, {.add_special = true, .parse_special = special});
      if (!ids.ok()) continue;
      for (TokenId id : *ids) {
        if (id < 0 || id >= t.vocab_size()) fuzz::Fail("Encode returned an id out of range");
      }
      (void)t.Decode(*ids, /*skip_special_tokens=*/special);
    }
  }
  std::vector<TokenId> some;
  for (TokenId id = 0; id < t.vocab_size() && id < 64; ++id) some.push_back(id);
  some.push_back(t.vocab_size() - 1);
  (void)t.Decode(some);
  for (TokenId id : some) {
    (void)t.TokenPiece(id);
    (void)t.TokenBytes(id);
  }
  (void)t.TokenPiece(t.vocab_size());
  return static_cast<int>(sum & 0);
}
