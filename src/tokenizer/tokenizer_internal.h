// TokenizerParts: what a loader (tokenizer.json, GGUF, llama2.c) hands to Tokenizer::Create.
// Internal to src/tokenizer/.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "src/base/types.h"
#include "src/tokenizer/added_tokens.h"
#include "src/tokenizer/decoder.h"
#include "src/tokenizer/models.h"
#include "src/tokenizer/normalizer.h"
#include "src/tokenizer/pre_tokenizer.h"

namespace pagellm::tokenizer {

// Limits that keep a hostile file from sizing allocations.
inline constexpr int64_t kMaxVocabSize = 1 << 22;  // 4M ids (real vocabularies are < 300K)
inline constexpr size_t kMaxPieceBytes = 1 << 16;

struct TokenizerParts {
  std::string source;             // "tokenizer.json", "GGUF", "llama2.c" (error messages)
  std::vector<TokenInfo> tokens;  // every id: piece, score, type
  // The model's piece -> id map (BPE/WordPiece point into it, so it lives here, boxed).
  std::unique_ptr<PieceMap> vocab = std::make_unique<PieceMap>();
  std::unique_ptr<Model> model;
  std::unique_ptr<Normalizer> normalizer;      // may be null
  std::unique_ptr<PreTokenizer> pre_tokenizer;  // may be null
  Decoder decoder = Decoder::ByteLevel();
  std::vector<AddedToken> added;  // matched in text before the model runs
  AddedTokenMatcher matcher;      // built by Create from `added`
  std::vector<TokenId> prefix_ids, suffix_ids;  // Encode(add_special)
  TokenId bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;
  std::vector<TokenId> extra_eos_ids;  // e.g. GGUF eot/eom
  std::string chat_template;
  std::vector<std::pair<std::string, std::string>> chat_templates;
};

}  // namespace pagellm::tokenizer
