// Tokenizer: text <-> token ids for HF tokenizer.json (BPE), GGUF vocabularies and llama2.c's
// tokenizer.bin, with one encode/decode contract for all of them.
//
// Loading
//   FromHfFiles / FromHfJson  tokenizer.json with model type "BPE": byte-level BPE with regex
//                             pre-tokenizers (Llama 3, Qwen2/3, GPT-2 style) and SentencePiece-style
//                             BPE with byte fallback (Llama 2, Mistral); tokenizer_config.json
//                             (optional) supplies bos/eos/unk/pad, add_bos_token/add_eos_token
//                             and chat_template (a string or a list of {name, template}).
//   FromGguf                  tokenizer.ggml.model "llama" (SentencePiece score merges, <0xNN> byte
//                             fallback), "gpt2" (BPE merges + the pre-tokenizer named by
//                             tokenizer.ggml.pre) and "bert" (WordPiece).
//   FromLlama2c               llama2.c tokenizer.bin, encoded exactly like run.c's encode().
// Every loader validates its input: a malformed file is an error Status naming the problem,
// never a crash, and no allocation is sized from an unchecked file value.
//
// Encoding (Encode)
//   * Input that is not valid UTF-8 never fails: each ill-formed subsequence is replaced by
//     U+FFFD before encoding (see utf8.h for the exact rule).
//   * parse_special = false (default): special tokens written in the text ("<|eot_id|>", "<s>")
//     are plain text. Added tokens that are NOT special (HF added_tokens with special=false,
//     GGUF user_defined tokens, e.g. Qwen3's "<think>") are always matched, exactly as HF
//     tokenizers and llama.cpp do. parse_special = true also matches special tokens, honoring
//     their lstrip / rstrip / single_word / normalized flags.
//   * add_special = true (default) wraps the ids with the model's prefix/suffix tokens: for
//     tokenizer.json the post_processor template (TemplateProcessing, Bert/RobertaProcessing),
//     overridden by tokenizer_config.json add_bos_token / add_eos_token when present; for GGUF
//     tokenizer.ggml.add_bos_token / add_eos_token (defaults as llama.cpp: on for "llama",
//     Llama-3 "gpt2" and "bert" (which also appends [SEP])); for llama2.c BOS only.
//
// Decoding (Decode, IncrementalDetokenizer)
//   Follows HF tokenizers' Tokenizer::decode: the decoder pipeline runs over the token pieces,
//   e.g. SentencePiece's "▁" -> " ", <0xNN> -> byte, and Strip removes the single leading space
//   of the decoded text (so [BOS, "▁Once"] decodes to "Once"). Added/special tokens decode to
//   their content (or nothing with skip_special_tokens). Byte sequences that are not valid UTF-8
//   become U+FFFD (per maximal ill-formed subpart). transformers' clean_up_tokenization_spaces is
//   NOT applied, so Decode(Encode(x)) == x for the supported tokenizers. An id outside
//   [0, vocab_size()) is an InvalidArgument error naming the id.
//
// Thread safety: a loaded Tokenizer is immutable apart from an internal bounded, sharded piece
// cache; all const methods may be called concurrently.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/base/status.h"
#include "src/base/types.h"
#include "src/format/gguf.h"
#include "src/tokenizer/models.h"

namespace pagellm {

namespace tokenizer {
struct TokenizerParts;
class PieceCache;
}  // namespace tokenizer

using tokenizer::TokenType;

struct EncodeOptions {
  bool add_special = true;     // add the model's BOS/EOS (prefix/suffix) tokens
  bool parse_special = false;  // match special tokens written in the text
};

class Tokenizer {
 public:
  // `tokenizer_config_json_path` may be empty (no config).
  static StatusOr<std::unique_ptr<Tokenizer>> FromHfFiles(
      const std::string& tokenizer_json_path, const std::string& tokenizer_config_json_path = "");
  static StatusOr<std::unique_ptr<Tokenizer>> FromHfJson(std::string_view tokenizer_json,
                                                         std::string_view tokenizer_config_json = "");
  static StatusOr<std::unique_ptr<Tokenizer>> FromGguf(const GgufFile& gguf);
  // llama2.c tokenizer.bin: int32 max_token_length, then per token: float32 score, int32 length,
  // bytes. `vocab_size` comes from the model header (run.c reads it there). Pieces are shown with
  // "▁" for spaces (TokenPiece) and ids 1/2 ("\n<s>\n", "\n</s>\n" in the file) as "<s>"/"</s>".
  static StatusOr<std::unique_ptr<Tokenizer>> FromLlama2c(const std::string& path, int vocab_size);
  static StatusOr<std::unique_ptr<Tokenizer>> FromLlama2cBytes(std::span<const uint8_t> bytes,
                                                               int vocab_size);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  StatusOr<std::vector<TokenId>> Encode(std::string_view text,
                                        const EncodeOptions& options = {}) const;
  StatusOr<std::string> Decode(std::span<const TokenId> ids, bool skip_special_tokens = false) const;

  // The vocabulary string of a token ("Ġthe", "▁the", "<0x0A>", "<|eot_id|>").
  StatusOr<std::string_view> TokenPiece(TokenId id) const;
  // The bytes this token contributes in the middle of a decoded text (" the", "\n"). May be an
  // incomplete UTF-8 sequence (byte tokens); use IncrementalDetokenizer for streaming text.
  StatusOr<std::string_view> TokenBytes(TokenId id) const;
  // The id of a vocabulary piece or added token content, or -1.
  TokenId TokenToId(std::string_view piece) const;

  int vocab_size() const { return static_cast<int>(tokens_.size()); }
  TokenId bos_id() const { return bos_id_; }  // -1 if the model has none
  TokenId eos_id() const { return eos_ids_.empty() ? -1 : eos_ids_[0]; }
  // Every end-of-generation id: eos_id() first, then GGUF eot/eom ids and special tokens whose
  // content marks the end of a turn ("<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>",
  // "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>"), as llama.cpp does. AddEosId extends it
  // (e.g. from generation_config.json).
  const std::vector<TokenId>& eos_ids() const { return eos_ids_; }
  Status AddEosId(TokenId id);
  TokenId unk_id() const { return unk_id_; }
  TokenId pad_id() const { return pad_id_; }
  // Whether Encode(add_special) prepends BOS / appends EOS.
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  // Token strings for chat templates ("" when absent).
  std::string_view bos_token() const;
  std::string_view eos_token() const;
  // The default chat template ("" if none) and all named ones (tokenizer_config.json list form
  // or GGUF tokenizer.chat_template.<name>).
  const std::string& chat_template() const { return chat_template_; }
  const std::vector<std::pair<std::string, std::string>>& chat_templates() const {
    return chat_templates_;
  }

  // Control/unknown/unused tokens and HF added tokens marked special: skipped by
  // Decode(skip_special_tokens) and matched in text only with parse_special. False out of range.
  bool IsSpecial(TokenId id) const;
  TokenType token_type(TokenId id) const;  // kUndefined out of range

  // Internals shared with IncrementalDetokenizer.
  struct DecodeRules {
    bool first_sensitive = false;
    int strip_leading = 0;
    char strip_char = ' ';
  };
  const DecodeRules& decode_rules() const { return decode_rules_; }
  // Bytes of token `id` (in range) at the start (first = true) or in the middle of the text.
  std::string_view PieceBytesUnchecked(TokenId id, bool first) const;

 private:
  Tokenizer();
  static StatusOr<std::unique_ptr<Tokenizer>> Create(tokenizer::TokenizerParts parts);
  Status EncodeSegment(std::string_view text, bool first_segment, bool parse_special,
                       std::vector<TokenId>* out) const;
  Status EncodeNormalized(std::string_view text, bool first_segment,
                          std::vector<TokenId>* out) const;

  std::unique_ptr<tokenizer::TokenizerParts> parts_;  // model, normalizer, pre-tokenizer, ...
  std::unique_ptr<tokenizer::PieceCache> cache_;
  std::vector<tokenizer::TokenInfo> tokens_;
  std::vector<std::string> piece_bytes_;        // per id, middle of text
  std::vector<std::string> first_piece_bytes_;  // per id, start of text (if first-sensitive)
  std::vector<uint8_t> special_;
  tokenizer::PieceMap added_to_id_;  // added token content -> id
  DecodeRules decode_rules_;
  std::vector<TokenId> prefix_ids_, suffix_ids_;
  TokenId bos_id_ = -1, unk_id_ = -1, pad_id_ = -1;
  std::vector<TokenId> eos_ids_;
  bool add_bos_ = false, add_eos_ = false;
  std::string chat_template_;
  std::vector<std::pair<std::string, std::string>> chat_templates_;
};

}  // namespace pagellm
