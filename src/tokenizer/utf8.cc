// UTF-8 primitives: encode/decode and the WHATWG-style streaming lossy decoder.
#include "src/tokenizer/utf8.h"

namespace pagellm::tokenizer {

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = kReplacementChar;
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string EncodeUtf8(char32_t cp) {
  std::string s;
  AppendUtf8(cp, &s);
  return s;
}

char32_t NextCodepoint(std::string_view text, size_t* pos) {
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  size_t i = *pos;
  const uint8_t b0 = p[i];
  const size_t len = Utf8SeqLen(b0);
  if (len == 1 || i + len > n) {
    *pos = i + 1;
    return b0 < 0x80 ? b0 : kReplacementChar;
  }
  char32_t cp = 0;
  if (len == 2) cp = b0 & 0x1F;
  if (len == 3) cp = b0 & 0x0F;
  if (len == 4) cp = b0 & 0x07;
  for (size_t k = 1; k < len; ++k) {
    if ((p[i + k] & 0xC0) != 0x80) {
      *pos = i + 1;
      return kReplacementChar;
    }
    cp = (cp << 6) | (p[i + k] & 0x3F);
  }
  *pos = i + len;
  return cp;
}

void Utf8Decoder::FeedByte(uint8_t b, std::string* out) {
  if (need_ == 0) {
    if (b < 0x80) {
      out->push_back(static_cast<char>(b));
      return;
    }
    if (b >= 0xC2 && b <= 0xDF) {
      need_ = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      if (b == 0xE0) lower_ = 0xA0;
      if (b == 0xED) upper_ = 0x9F;  // no surrogates
      need_ = 3;
    } else if (b >= 0xF0 && b <= 0xF4) {
      if (b == 0xF0) lower_ = 0x90;
      if (b == 0xF4) upper_ = 0x8F;  // <= U+10FFFF
      need_ = 4;
    } else {
      out->append(kReplacementUtf8);
      return;
    }
    pending_[0] = b;
    pending_len_ = 1;
    return;
  }
  if (b < lower_ || b > upper_) {
    // The pending prefix is a maximal ill-formed subpart; `b` starts afresh.
    need_ = 0;
    pending_len_ = 0;
    lower_ = 0x80;
    upper_ = 0xBF;
    out->append(kReplacementUtf8);
    FeedByte(b, out);
    return;
  }
  lower_ = 0x80;
  upper_ = 0xBF;
  pending_[pending_len_++] = b;
  if (pending_len_ == need_) {
    out->append(reinterpret_cast<const char*>(pending_), pending_len_);
    need_ = 0;
    pending_len_ = 0;
  }
}

void Utf8Decoder::Feed(std::string_view bytes, std::string* out) {
  for (char c : bytes) FeedByte(static_cast<uint8_t>(c), out);
}

void Utf8Decoder::Finish(std::string* out) {
  if (pending_len_ > 0) out->append(kReplacementUtf8);
  need_ = 0;
  pending_len_ = 0;
  lower_ = 0x80;
  upper_ = 0xBF;
}

bool IsValidUtf8(std::string_view bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t b = p[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + len > n) return false;
    if (p[i + 1] < lo || p[i + 1] > hi) return false;
    for (size_t k = 2; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

std::string SanitizeUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  Utf8Decoder dec;
  dec.Feed(bytes, &out);
  dec.Finish(&out);
  return out;
}

}  // namespace pagellm::tokenizer
