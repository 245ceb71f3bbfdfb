// Decoder: turns vocabulary pieces back into bytes (tokenizer.json "decoder").
//
// HF decoders run over the list of token strings. The ones real files use are all per-token
// transforms, plus two positional rules, so pagellm compiles a decoder into:
//   PieceBytes(piece, first)  the bytes of one token; `first` marks the first decoded token
//                             (Metaspace drops its leading space, WordPiece and the
//                             decoder-less " " join add no separator before it);
//   strip_leading()           how many leading strip_char() bytes are removed from the whole
//                             decoded text (HF Strip placed after Fuse, e.g. Llama/Mistral's
//                             Strip(" ", 1, 0), which is why "▁Once" at the start reads "Once").
// Decoding = concatenate PieceBytes, apply the leading strip, then UTF-8-sanitize. Because every
// rule only looks at the first token or the first bytes, the IncrementalDetokenizer reproduces
// it exactly in O(1) per token.
//
// Supported types: ByteLevel, ByteFallback, Fuse, Replace (String pattern), Strip, Metaspace,
// WordPiece and Sequence; a missing decoder joins tokens with " " (as HF does).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "src/base/status.h"
#include "src/tokenizer/json_util.h"

namespace pagellm::tokenizer {

class Decoder {
 public:
  // `j` is the "decoder" value (may be null).
  static StatusOr<Decoder> FromJson(const Json& j, std::string_view where);
  // GPT-2 style byte-level pieces.
  static Decoder ByteLevel();
  // SentencePiece pieces: "▁" -> " ", <0xNN> -> byte, then drop one leading space of the text
  // if `strip_leading_space`.
  static Decoder SentencePiece(bool strip_leading_space);

  std::string PieceBytes(std::string_view piece, bool first) const;
  // Bytes of an added token: its content, after a " " separator when the decoder puts one
  // between tokens (WordPiece, no decoder) and the token is not first.
  std::string SeparatedBytes(std::string_view content, bool first) const;
  // Whether PieceBytes depends on `first`.
  bool first_sensitive() const { return first_sensitive_; }
  int strip_leading() const { return strip_leading_; }
  char strip_char() const { return strip_char_; }

 private:
  enum class Kind { kReplace, kByteFallback, kByteLevel, kMetaspace, kWordPiece, kStrip, kJoinSpace };
  struct Step {
    Kind kind = Kind::kReplace;
    std::string a, b;  // Replace pattern/content; Metaspace replacement; WordPiece prefix
    char c = ' ';      // Strip content
    int start = 0, stop = 0;
    bool flag = false;  // Metaspace: strip the first token's leading space
  };
  Status Parse(const Json& j, std::string_view where, int depth);

  std::vector<Step> steps_;
  bool fused_ = false;
  bool separates_ = false;  // WordPiece / join with " "
  bool first_sensitive_ = false;
  int strip_leading_ = 0;
  char strip_char_ = ' ';
};

}  // namespace pagellm::tokenizer
