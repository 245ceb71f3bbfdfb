// Fuzzes encoding and decoding with real tokenizers from the shared test data (loaded once):
// Llama 3 (byte-level BPE), Mistral 7B and stories260K (SentencePiece-style BPE, tokenizer.json),
// llama.cpp's llama-spm / gpt-2 / bert-bge vocabularies (GGUF) and llama2.c's tok512.bin.
//
// Input: byte 0 picks the tokenizer (low 3 bits), the mode (bits 3-4) and flags (bits 5-6); the
// rest is text (modes 0, 1) or 3-byte little-endian token ids (modes 2, 3; some fall just outside
// the vocabulary). Checked, besides "no crash": ids from Encode are in range; Decode(Encode(x))
// == x for valid UTF-8 x with tokenizers that do not normalize (and, for SentencePiece ones, x
// without "▁", which decodes as a space); streaming through the
// IncrementalDetokenizer gives exactly Decode's text; bad ids are errors that leave the
// detokenizer's state alone.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "src/format/gguf.h"
#include "src/tokenizer/incremental_detokenizer.h"
#include "src/tokenizer/tokenizer.h"
#include "src/tokenizer/utf8.h"

namespace {

using namespace pagellm;

struct Loaded {
  std::string name;
  std::unique_ptr<GgufFile> gguf;  // kept alive for GGUF vocabularies
  std::unique_ptr<Tokenizer> tok;
  bool round_trips = false;  // Decode(Encode(x)) == x (no normalizer that changes text)
  bool metaspace = false;    // SentencePiece: a "▁" in the text decodes as a space
};

std::vector<Loaded> LoadAll() {
  const std::string dir = fuzz::SharedDir();
  std::vector<Loaded> out;
  auto add = [&](std::string name, StatusOr<std::unique_ptr<Tokenizer>> tok, bool round_trips,
                 bool metaspace, std::unique_ptr<GgufFile> gguf = nullptr) {
    if (!tok.ok()) {
      std::fprintf(stderr, "tokenizer_codec: skipping %s: %s\n", name.c_str(),
                   std::string(tok.status().message()).c_str());
      return;
    }
    out.push_back({std::move(name), std::move(gguf), std::move(*tok), round_trips, metaspace});
  };
  auto hf = [&](const std::string& sub, bool metaspace) {
    const std::string base = dir + "/" + sub;
    add(sub, Tokenizer::FromHfFiles(base + "/tokenizer.json", base + "/tokenizer_config.json"),
        true, metaspace);
  };
  auto gguf = [&](const std::string& file, bool round_trips, bool metaspace) {
    auto g = GgufFile::Open(dir + "/tokenizers/llama.cpp-vocab/" + file);
    if (!g.ok()) {
      std::fprintf(stderr, "tokenizer_codec: skipping %s\n", file.c_str());
      return;
    }
    auto tok = Tokenizer::FromGguf(**g);
    add(file, std::move(tok), round_trips, metaspace, std::move(*g));
  };
  hf("tokenizers/llama3", false);
  hf("tokenizers/mistral7b", true);
  hf("models/stories260K/hf", true);
  gguf("ggml-vocab-llama-spm.gguf", true, true);
  gguf("ggml-vocab-gpt-2.gguf", true, false);
  gguf("ggml-vocab-bert-bge.gguf", false, false);  // lower-cases, strips accents
  if (auto bytes = fuzz::ReadFile(dir + "/models/stories260K/llama2c/tok512.bin")) {
    add("llama2c tok512", Tokenizer::FromLlama2cBytes(
            std::span(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()), 512),
        false, true);
  }
  if (out.empty()) {
    // No shared data: a tiny byte-level vocabulary keeps the target meaningful.
    std::string vocab, sep;
    for (int b = 0; b < 256; ++b) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "<0x%02X>", b);
      vocab += sep + "\"" + buf + "\": " + std::to_string(b);
      sep = ", ";
    }
    const std::string json =
        R"({"model": {"type": "BPE", "byte_fallback": true, "vocab": {)" + vocab +
        R"(, "▁": 256, "a": 257, "▁a": 258}, "merges": ["▁ a"]},
           "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern":
             {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}]},
           "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}})";
    add("builtin", Tokenizer::FromHfJson(json), true, true);
  }
  return out;
}

const std::vector<Loaded>& Tokenizers() {
  static const std::vector<Loaded>* all = new std::vector<Loaded>(LoadAll());
  return *all;
}

// Streams `ids` (all in range) and checks the text equals Decode(ids).
void CheckIncremental(const Tokenizer& t, std::span<const TokenId> ids, bool skip) {
  auto whole = t.Decode(ids, skip);
  if (!whole.ok()) fuzz::Fail("Decode failed on ids in range");
  IncrementalDetokenizer detok(t, {}, skip);
  std::string streamed;
  for (TokenId id : ids) {
    auto piece = detok.Next(id);
    if (!piece.ok()) fuzz::Fail("IncrementalDetokenizer::Next failed on an id in range");
    streamed += *piece;
    if (detok.pending_bytes() > 3) fuzz::Fail("more than 3 pending bytes");
  }
  streamed += detok.Flush();
  if (streamed != *whole) fuzz::Fail("incremental detokenization differs from Decode");
}

}  // namespace

// Loading the tokenizers takes seconds (more under ASan); do it before libFuzzer's timer starts.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  Tokenizers();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<Loaded>& all = Tokenizers();
  if (all.empty() || size == 0) return 0;
  fuzz::Input in(data, size);
  const uint8_t sel = in.Byte();
  const Loaded& l = all[(sel & 7) % all.size()];
  const Tokenizer& t = *l.tok;
  const int mode = (sel >> 3) & 3;
  const bool flag_a = (sel >> 5) & 1, flag_b = (sel >> 6) & 1;

  if (mode <= 1) {  // encode text
    const std::string_view text = in.Rest();
    auto ids = t.Encode(text, {.add_special = flag_a, .parse_special = flag_b});
    if (!ids.ok()) fuzz::Fail("Encode failed");
    for (TokenId id : *ids) {
      if (id < 0 || id >= t.vocab_size()) fuzz::Fail("Encode returned an id out of range");
    }
    auto back = t.Decode(*ids, /*skip_special_tokens=*/false);
    if (!back.ok()) fuzz::Fail("Decode failed on encoded ids");
    const bool comparable = l.round_trips && !flag_a && !flag_b && tokenizer::IsValidUtf8(text) &&
                            !(l.metaspace && text.find("\xE2\x96\x81") != std::string_view::npos);
    if (comparable && *back != text) {
      fuzz::Fail("Decode(Encode(text)) != text");
    }
    CheckIncremental(t, *ids, mode == 1);
    return 0;
  }

  // Token ids: 3 bytes each, mapped onto [-1, vocab_size].
  std::vector<TokenId> ids;
  std::vector<TokenId> valid;
  const uint32_t span = static_cast<uint32_t>(t.vocab_size()) + 2;
  while (in.remaining() > 0) {
    const TokenId id = static_cast<TokenId>(in.Bytes(3) % span) - 1;
    ids.push_back(id);
    if (id >= 0 && id < t.vocab_size()) valid.push_back(id);
  }
  if (mode == 2) {
    auto text = t.Decode(ids, flag_a);
    if (text.ok() != (valid.size() == ids.size())) fuzz::Fail("Decode validity of ids");
    if (text.ok() && !tokenizer::IsValidUtf8(*text)) fuzz::Fail("Decode gave invalid UTF-8");
    CheckIncremental(t, valid, flag_a);
    for (TokenId id : ids) {
      (void)t.TokenPiece(id);
      (void)t.TokenBytes(id);
      (void)t.IsSpecial(id);
    }
    if (flag_b) (void)t.Encode(*t.Decode(valid, false), {.add_special = false, .parse_special = true});
    return 0;
  }
  // mode 3: a prompt (the first ids / 2) then generated ids, some out of range.
  const size_t np = ids.size() / 2;
  IncrementalDetokenizer detok(t, std::span(ids).first(np), flag_a);
  std::string text;
  for (size_t i = np; i < ids.size(); ++i) {
    const size_t pending = detok.pending_bytes();
    auto piece = detok.Next(ids[i]);
    if (piece.ok()) {
      text += *piece;
    } else if (detok.pending_bytes() != pending) {
      fuzz::Fail("a rejected id changed the detokenizer");
    }
  }
  text += detok.Flush();
  if (!tokenizer::IsValidUtf8(text)) fuzz::Fail("streamed text is not valid UTF-8");
  return 0;
}
