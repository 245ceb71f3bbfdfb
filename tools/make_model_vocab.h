// A synthetic SentencePiece-BPE vocabulary with byte fallback for random-weight models, written
// as Hugging Face tokenizer.json / tokenizer_config.json text and as GGUF tokenizer.ggml.* keys.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "src/base/status.h"
#include "src/format/gguf_writer.h"

namespace pagellm {

struct SyntheticVocab {
  static constexpr int64_t kMinSize = 3 + 256 + 1;  // specials, bytes, "▁"
  // id -> piece: <unk> <s> </s>, <0x00>..<0xFF>, single characters ("▁" = space), then merged
  // pieces in merge-priority order.
  std::vector<std::string> pieces;
  std::vector<float> scores;       // SentencePiece scores: higher merges first (GGUF)
  std::vector<int32_t> types;      // GGUF token types: 1 normal, 2 unknown, 3 control, 6 byte
  // Every (left, right) whose concatenation is a piece and whose halves are pieces, ordered by
  // the id of the result (as HF's SentencePiece converter orders them).
  std::vector<std::pair<std::string, std::string>> merges;
};

// Exactly `size` pieces; size must be at least SyntheticVocab::kMinSize.
StatusOr<SyntheticVocab> MakeSyntheticVocab(int64_t size);

// tokenizer.json (BPE, byte_fallback, Llama/SentencePiece normalizer and decoder).
std::string TokenizerJson(const SyntheticVocab& vocab);
// tokenizer_config.json (bos <s>, eos </s>, add_bos_token, a minimal chat template).
std::string TokenizerConfigJson(int64_t model_max_length);
// tokenizer.ggml.* keys (model "llama").
void AddGgufTokenizer(const SyntheticVocab& vocab, GgufWriter* writer);

}  // namespace pagellm
