// Fuzzes the tokenizer.json (+ tokenizer_config.json) loader: the input is tokenizer.json, or
// tokenizer.json + '\0' + tokenizer_config.json. A tokenizer that loads encodes and decodes a few
// strings and streams ids through the IncrementalDetokenizer.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "src/tokenizer/incremental_detokenizer.h"
#include "src/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pagellm;
  std::string_view all(reinterpret_cast<const char*>(data), size);
  std::string_view json = all, config;
  if (size_t nul = all.find('\0'); nul != std::string_view::npos) {
    json = all.substr(0, nul);
    config = all.substr(nul + 1);
  }
  auto tok = Tokenizer::FromHfJson(json, config);
  if (!tok.ok()) return 0;
  const Tokenizer& t = **tok;
  std::vector<TokenId> all_ids;
  for (const char* text : {"Hello world! <s> <|im_end|> 123", " \n\t héllo  日本語 🙂 x\xff\xfe", ""}) {
    for (bool special : {false, true}) {
      auto ids = t.Encode(text, {.add_special = special, .parse_special = special});
      if (!ids.ok()) continue;
      for (TokenId id : *ids) {
        if (id < 0 || id >= t.vocab_size()) fuzz::Fail("Encode returned an id out of range");
      }
      (void)t.Decode(*ids, special);
      all_ids.insert(all_ids.end(), ids->begin(), ids->end());
    }
  }
  for (TokenId id = 0; id < t.vocab_size() && id < 32; ++id) all_ids.push_back(id);
  if (t.vocab_size() > 0) all_ids.push_back(t.vocab_size() - 1);
  for (bool skip : {false, true}) {
    auto whole = t.Decode(all_ids, skip);
    IncrementalDetokenizer detok(t, {}, skip);
    std::string streamed;
    for (TokenId id : all_ids) {
      auto piece = detok.Next(id);
      if (!piece.ok()) fuzz::Fail("IncrementalDetokenizer::Next failed on an id in range");
      streamed += *piece;
    }
    streamed += detok.Flush();
    if (!whole.ok()) fuzz::Fail("Decode failed on ids in range");
    if (streamed != *whole) fuzz::Fail("incremental detokenization differs from Decode");
  }
  for (TokenId id : {-1, 0, t.vocab_size() - 1, t.vocab_size()}) {
    (void)t.TokenPiece(id);
    (void)t.TokenBytes(id);
    (void)t.IsSpecial(id);
    (void)t.token_type(id);
  }
  (void)t.TokenToId("hello");
  return 0;
}
