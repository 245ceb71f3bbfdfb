// Unicode character classes and normalization (via utf8proc) plus the GPT-2 byte-level alphabet.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace pagellm::tokenizer {

// General-category predicates (Unicode, as utf8proc knows them).
bool IsLetter(char32_t cp);       // L*
bool IsNumeric(char32_t cp);      // Nd, Nl, No (Rust char::is_numeric, HF Digits)
bool IsMark(char32_t cp);         // M*
bool IsNonspacingMark(char32_t cp);  // Mn (what HF StripAccents removes)
bool IsPunctuation(char32_t cp);  // P*
bool IsSymbol(char32_t cp);       // S*
bool IsOther(char32_t cp);        // C* (Cc, Cf, Cs, Co, Cn)
// White_Space property (Rust char::is_whitespace).
bool IsWhitespace(char32_t cp);
// HF tokenizers' punctuation: ASCII punctuation (which includes $+<=>^`|~) or Unicode P*.
bool IsHfPunctuation(char32_t cp);
// Letters, numbers, marks and '_' (word characters for added tokens' single_word rule).
bool IsWordChar(char32_t cp);
// The CJK ideograph blocks BERT pads with spaces (as HF's BertNormalizer defines them).
bool IsChineseChar(char32_t cp);

enum class NormalForm { kNFC, kNFD, kNFKC, kNFKD };
// Normalizes valid UTF-8 (ASCII is returned unchanged without work).
std::string Normalize(std::string_view text, NormalForm form);
// Full lowercase mapping (utf8proc simple mapping plus U+0130 -> "i\u0307" as Rust does).
std::string ToLower(std::string_view text);

// GPT-2 byte-level alphabet: every byte maps to one printable code point (bytes 0x21-0x7E,
// 0xA1-0xAC, 0xAE-0xFF map to themselves, the other 68 to U+0100..U+0143 in byte order).
struct ByteLevelAlphabet {
  std::array<char32_t, 256> byte_to_cp;
  std::array<std::string, 256> byte_to_utf8;
  std::array<int16_t, 0x144> cp_to_byte;  // -1 where the code point is not in the alphabet
  // Returns the byte for a code point of the alphabet, or -1.
  int CodepointToByte(char32_t cp) const;
};
const ByteLevelAlphabet& GetByteLevelAlphabet();

}  // namespace pagellm::tokenizer
