// Vocabulary entries and the subword models that turn one pre-tokenized piece into token ids:
//
//   BpeModel       HF tokenizers' BPE: merges ranked by position, lowest rank first (ties:
//                  leftmost), priority queue over a linked list of symbols; ignore_merges,
//                  byte_fallback (<0xNN>), unk with fuse_unk.
//   SpmModel       SentencePiece-style merging by token score, highest first (ties: leftmost),
//                  as llama.cpp does for GGUF "llama" vocabularies; leftover characters become
//                  <0xNN> byte tokens (or unk).
//   Llama2cModel   llama2.c run.c's encode(): a dummy-prefix " " token, per-character lookups
//                  with byte fallback to id byte+3, then best-score pair merges over the raw
//                  vocab strings.
//   WordPieceModel greedy longest-match-first (BERT), word-initial pieces marked either by a
//                  prefix on the word ("▁", llama.cpp GGUF) or on continuations ("##", HF).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/base/status.h"
#include "src/base/types.h"

namespace pagellm::tokenizer {

// GGUF token types (tokenizer.ggml.token_type); HF files map onto them.
enum class TokenType : uint8_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct TokenInfo {
  std::string piece;  // the vocabulary string ("Ġthe", "▁the", "<0x0A>", "<s>")
  float score = 0;
  TokenType type = TokenType::kNormal;
};

using PieceMap = absl::flat_hash_map<std::string, TokenId>;

inline TokenId FindPiece(const PieceMap& map, std::string_view piece) {
  auto it = map.find(ToAbsl(piece));
  return it == map.end() ? -1 : it->second;
}

// The id of every "<0xNN>" piece (-1 where absent).
std::array<TokenId, 256> FindByteTokens(const std::vector<TokenInfo>& tokens);

class Model {
 public:
  virtual ~Model() = default;
  // Appends the ids for one piece (valid UTF-8, non-empty).
  virtual void EncodePiece(std::string_view piece, std::vector<TokenId>* out) const = 0;
  // Whether results may be cached per piece (false for models fed whole segments).
  virtual bool cacheable() const { return true; }
};

struct BpeOptions {
  bool ignore_merges = false;  // a piece that is itself a token is not split
  bool byte_fallback = false;  // unknown characters become <0xNN> tokens
  bool fuse_unk = false;       // consecutive unknown characters become one unk
  TokenId unk_id = -1;         // -1: unknown characters are dropped (as HF does)
};

class BpeModel : public Model {
 public:
  // `vocab` must outlive the model.
  BpeModel(const PieceMap* vocab, const std::vector<TokenInfo>& tokens, BpeOptions options);
  // Registers merge `rank` (its index in the merge list). Errors name unknown pieces.
  Status AddMerge(std::string_view left, std::string_view right, int32_t rank);
  size_t num_merges() const { return merges_.size(); }
  void EncodePiece(std::string_view piece, std::vector<TokenId>* out) const override;

 private:
  struct MergeInfo {
    int32_t rank;
    TokenId id;
  };
  static uint64_t Key(TokenId a, TokenId b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  const PieceMap* vocab_;
  BpeOptions options_;
  std::array<TokenId, 256> byte_tokens_;
  absl::flat_hash_map<uint64_t, MergeInfo> merges_;
};

class SpmModel : public Model {
 public:
  // Merge targets are normal, user-defined and unused tokens (never control/unknown/byte).
  SpmModel(const std::vector<TokenInfo>& tokens, TokenId unk_id);
  void EncodePiece(std::string_view piece, std::vector<TokenId>* out) const override;
  bool cacheable() const override { return false; }

 private:
  std::vector<float> scores_;
  PieceMap mergeable_;
  std::array<TokenId, 256> byte_tokens_;
  TokenId unk_id_;
};

class Llama2cModel : public Model {
 public:
  // `raw_pieces` are the strings exactly as stored in tokenizer.bin (spaces, not "▁").
  Llama2cModel(std::vector<std::string> raw_pieces, std::vector<float> scores);
  void EncodePiece(std::string_view piece, std::vector<TokenId>* out) const override;
  bool cacheable() const override { return false; }

 private:
  std::vector<std::string> raw_;
  std::vector<float> scores_;
  PieceMap lookup_;  // raw string -> lowest id
};

class WordPieceModel : public Model {
 public:
  // Exactly one of `word_prefix` ("▁": prepended to the word, continuations unmarked) or
  // `continuation_prefix` ("##") is non-empty. `vocab` must outlive the model.
  WordPieceModel(const PieceMap* vocab, std::string word_prefix, std::string continuation_prefix,
                 TokenId unk_id, size_t max_token_bytes);
  void EncodePiece(std::string_view piece, std::vector<TokenId>* out) const override;

 private:
  const PieceMap* vocab_;
  std::string word_prefix_;
  std::string continuation_prefix_;
  TokenId unk_id_;
  size_t max_token_bytes_;
};

}  // namespace pagellm::tokenizer
