// UTF-8 primitives for the tokenizer: code point decode/encode and a streaming lossy decoder.
//
// Invalid input is never an error here: ill-formed sequences become U+FFFD, one per maximal
// ill-formed subpart (the WHATWG / Unicode "substitution of maximal subparts" rule, which is
// also what Rust's String::from_utf8_lossy does). Utf8Decoder applies that rule to a stream, so
// decoding bytes in pieces gives exactly the same text as decoding them at once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pagellm::tokenizer {

inline constexpr char32_t kReplacementChar = 0xFFFD;
inline constexpr std::string_view kReplacementUtf8 = "\xEF\xBF\xBD";

// Appends the UTF-8 encoding of `cp` (must be a scalar value <= 0x10FFFF, not a surrogate;
// anything else appends U+FFFD).
void AppendUtf8(char32_t cp, std::string* out);
std::string EncodeUtf8(char32_t cp);

// Decodes the code point starting at text[*pos] and advances *pos past it. Precondition: the
// text is valid UTF-8 (e.g. produced by SanitizeUtf8). On a malformed byte returns U+FFFD and
// advances one byte, never past the end.
char32_t NextCodepoint(std::string_view text, size_t* pos);

// Byte length of the UTF-8 sequence whose lead byte is `lead` (1 for stray continuation bytes).
inline size_t Utf8SeqLen(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

bool IsValidUtf8(std::string_view bytes);

// Returns `bytes` with every ill-formed subsequence replaced by U+FFFD (see file comment).
std::string SanitizeUtf8(std::string_view bytes);

// Streaming UTF-8 validator/decoder: Feed() appends to `out` every complete character (or U+FFFD
// for ill-formed bytes) and keeps an incomplete trailing sequence (at most 3 bytes) pending;
// Finish() flushes a pending incomplete sequence as U+FFFD. Output is always valid UTF-8.
class Utf8Decoder {
 public:
  void Feed(std::string_view bytes, std::string* out);
  void Finish(std::string* out);
  // Bytes held back because they may still become a complete character.
  size_t pending() const { return pending_len_; }
  void Reset() { pending_len_ = 0; }

 private:
  void FeedByte(uint8_t b, std::string* out);
  uint8_t pending_[4] = {};
  size_t pending_len_ = 0;
  size_t need_ = 0;          // total length of the sequence being collected
  uint8_t lower_ = 0x80;     // allowed range of the next continuation byte
  uint8_t upper_ = 0xBF;
};

}  // namespace pagellm::tokenizer
