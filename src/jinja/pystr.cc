// Python-compatible text primitives: UTF-8 code points, character classes, case mapping and str methods.
#include "src/jinja/pystr.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "utf8proc.h"

namespace pagellm::jinja::py {

// ---------------------------------------------------------------- UTF-8

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    char32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

void AppendUtf8(char32_t cp, std::string* out) {
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

char32_t NextCodepoint(std::string_view s, size_t* pos) {
  const auto c = static_cast<unsigned char>(s[*pos]);
  if (c < 0x80) {
    ++*pos;
    return c;
  }
  size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
  char32_t cp = len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  size_t end = *pos + len;
  if (end > s.size()) end = s.size();  // only on invalid input; never read past the end
  for (size_t k = *pos + 1; k < end; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[k]) & 0x3F);
  *pos = end;
  return cp;
}

std::vector<char32_t> Decode(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) out.push_back(NextCodepoint(s, &pos));
  return out;
}

std::string Encode(const std::vector<char32_t>& cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t c : cps) AppendUtf8(c, &out);
  return out;
}

size_t CountCodepoints(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// ---------------------------------------------------------------- character classes

namespace {
utf8proc_category_t Cat(char32_t c) { return utf8proc_category(static_cast<utf8proc_int32_t>(c)); }
}  // namespace

bool IsSpace(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool IsLineBreak(char32_t c) {
  return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
         c == 0x85 || c == 0x2028 || c == 0x2029;
}

bool IsAlpha(char32_t c) {
  if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
  const auto k = Cat(c);
  return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
         k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_LO;
}

bool IsDecimal(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  return Cat(c) == UTF8PROC_CATEGORY_ND;
}

bool IsAlnum(char32_t c) {
  if (c < 0x80) return IsAlpha(c) || IsDecimal(c);
  const auto k = Cat(c);
  return IsAlpha(c) || k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL ||
         k == UTF8PROC_CATEGORY_NO;
}

bool IsWordChar(char32_t c) { return c == '_' || IsAlnum(c); }

bool IsUpper(char32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z';
  return Cat(c) == UTF8PROC_CATEGORY_LU;
}

bool IsLower(char32_t c) {
  if (c < 0x80) return c >= 'a' && c <= 'z';
  return Cat(c) == UTF8PROC_CATEGORY_LL;
}

bool IsCased(char32_t c) {
  if (c < 0x80) return IsAlpha(c);
  const auto k = Cat(c);
  return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT;
}

bool IsPrintable(char32_t c) {
  if (c < 0x80) return c >= 0x20 && c < 0x7F;
  switch (Cat(c)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

char32_t ToUpper(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
  if (c == 0xDF) return c;  // ß has no one-character uppercase in Python (full mapping: "SS")
  return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c)));
}
char32_t ToLower(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
}
char32_t ToTitle(char32_t c) {
  if (c < 0x80) return ToUpper(c);
  return static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(c)));
}

// ---------------------------------------------------------------- str methods


namespace {
// Python's full (SpecialCasing.txt) mappings that expand to several characters, for the common
// characters; everything else uses the simple one-to-one mapping.
const char* SpecialUpper(char32_t c, bool title) {
  switch (c) {
    case 0x00DF: return title ? "Ss" : "SS";             // ß
    case 0x0149: return title ? "\xCA\xBCN" : "\xCA\xBCN";  // ŉ
    case 0xFB00: return title ? "Ff" : "FF";
    case 0xFB01: return title ? "Fi" : "FI";
    case 0xFB02: return title ? "Fl" : "FL";
    case 0xFB03: return title ? "Ffi" : "FFI";
    case 0xFB04: return title ? "Ffl" : "FFL";
    case 0xFB05:
    case 0xFB06: return title ? "St" : "ST";
    default: return nullptr;
  }
}

void AppendUpper(char32_t c, bool title, std::string* out) {
  if (c >= 0x80) {
    if (const char* special = SpecialUpper(c, title)) {
      *out += special;
      return;
    }
  }
  AppendUtf8(title ? ToTitle(c) : ToUpper(c), out);
}

void AppendLower(char32_t c, std::string* out) {
  if (c == 0x0130) {  // İ -> i + combining dot above
    *out += "i\xCC\x87";
    return;
  }
  AppendUtf8(ToLower(c), out);
}
}  // namespace

std::string Upper(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) AppendUpper(NextCodepoint(s, &pos), false, &out);
  return out;
}

std::string Lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) AppendLower(NextCodepoint(s, &pos), &out);
  return out;
}

std::string SwapCase(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    const char32_t c = NextCodepoint(s, &pos);
    if (IsUpper(c)) {
      AppendLower(c, &out);
    } else if (IsLower(c)) {
      AppendUpper(c, false, &out);
    } else {
      AppendUtf8(c, &out);
    }
  }
  return out;
}

std::string Title(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool prev_cased = false;
  size_t pos = 0;
  while (pos < s.size()) {
    const char32_t c = NextCodepoint(s, &pos);
    if (prev_cased) {
      AppendLower(c, &out);
    } else {
      AppendUpper(c, true, &out);
    }
    prev_cased = IsCased(c);
  }
  return out;
}

std::string Capitalize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  bool first = true;
  while (pos < s.size()) {
    const char32_t c = NextCodepoint(s, &pos);
    if (first) {
      AppendUpper(c, true, &out);
    } else {
      AppendLower(c, &out);
    }
    first = false;
  }
  return out;
}

std::string Strip(std::string_view s, const std::optional<std::string>& chars, bool left,
                  bool right) {
  std::vector<char32_t> set;
  if (chars) set = Decode(*chars);
  auto strip_it = [&](char32_t c) {
    if (!chars) return IsSpace(c);
    for (char32_t x : set) {
      if (x == c) return true;
    }
    return false;
  };
  size_t begin = 0, end = s.size();
  if (left) {
    while (begin < end) {
      size_t p = begin;
      if (!strip_it(NextCodepoint(s, &p))) break;
      begin = p;
    }
  }
  if (right) {
    while (end > begin) {
      size_t start = end - 1;
      while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
      size_t p = start;
      if (!strip_it(NextCodepoint(s, &p))) break;
      end = start;
    }
  }
  return std::string(s.substr(begin, end - begin));
}

namespace {
// Byte length of the whitespace code point at s[pos], 0 if none.
size_t SpaceAt(std::string_view s, size_t pos) {
  size_t p = pos;
  return IsSpace(NextCodepoint(s, &p)) ? p - pos : 0;
}
// Start of the code point ending at byte `end` (end > 0).
size_t PrevStart(std::string_view s, size_t end) {
  size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  return start;
}
}  // namespace

std::vector<std::string> Split(std::string_view s, const std::optional<std::string>& sep,
                               int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    size_t pos = 0;
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      const size_t hit = s.find(*sep, pos);
      if (hit == std::string_view::npos) break;
      out.emplace_back(s.substr(pos, hit - pos));
      pos = hit + sep->size();
    }
    out.emplace_back(s.substr(pos));
    return out;
  }
  size_t pos = 0;
  const size_t n = s.size();
  while (true) {
    while (pos < n) {
      const size_t w = SpaceAt(s, pos);
      if (w == 0) break;
      pos += w;
    }
    if (pos >= n) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
      out.emplace_back(s.substr(pos));
      break;
    }
    size_t end = pos;
    while (end < n && SpaceAt(s, end) == 0) {
      size_t p = end;
      NextCodepoint(s, &p);
      end = p;
    }
    out.emplace_back(s.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

std::vector<std::string> RSplit(std::string_view s, const std::optional<std::string>& sep,
                                int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    size_t end = s.size();
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      if (end < sep->size()) break;
      const size_t hit = s.rfind(*sep, end - sep->size());
      if (hit == std::string_view::npos) break;
      out.emplace_back(s.substr(hit + sep->size(), end - hit - sep->size()));
      end = hit;
    }
    out.emplace_back(s.substr(0, end));
    return {out.rbegin(), out.rend()};
  }
  size_t end = s.size();
  while (true) {
    while (end > 0) {
      const size_t st = PrevStart(s, end);
      if (SpaceAt(s, st) == 0) break;
      end = st;
    }
    if (end == 0) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
      out.emplace_back(s.substr(0, end));
      break;
    }
    size_t begin = end;
    while (begin > 0) {
      const size_t st = PrevStart(s, begin);
      if (SpaceAt(s, st) != 0) break;
      begin = st;
    }
    out.emplace_back(s.substr(begin, end - begin));
    end = begin;
  }
  return {out.rbegin(), out.rend()};
}

std::vector<std::string> SplitLines(std::string_view s, bool keepends) {
  std::vector<std::string> out;
  size_t line_start = 0, pos = 0;
  while (pos < s.size()) {
    const size_t cp_start = pos;
    const char32_t c = NextCodepoint(s, &pos);
    if (!IsLineBreak(c)) continue;
    size_t brk_end = pos;
    if (c == '\r' && brk_end < s.size() && s[brk_end] == '\n') ++brk_end;
    out.emplace_back(s.substr(line_start, (keepends ? brk_end : cp_start) - line_start));
    pos = line_start = brk_end;
  }
  if (line_start < s.size()) out.emplace_back(s.substr(line_start));
  return out;
}

std::string Replace(std::string_view s, std::string_view old_s, std::string_view new_s,
                    int64_t count) {
  std::string out;
  int64_t done = 0;
  if (old_s.empty()) {
    size_t pos = 0;
    while (true) {
      if (count < 0 || done < count) {
        out += new_s;
        ++done;
      }
      if (pos >= s.size()) break;
      const size_t start = pos;
      NextCodepoint(s, &pos);
      out += s.substr(start, pos - start);
    }
    return out;
  }
  size_t pos = 0;
  while (count < 0 || done < count) {
    const size_t hit = s.find(old_s, pos);
    if (hit == std::string_view::npos) break;
    out += s.substr(pos, hit - pos);
    out += new_s;
    pos = hit + old_s.size();
    ++done;
  }
  out += s.substr(pos);
  return out;
}

namespace {
// Python slice bounds [start, end) in code points -> byte offsets; false if start > len.
bool SliceBytes(std::string_view s, std::optional<int64_t> start, std::optional<int64_t> end,
                size_t* b0, size_t* b1, int64_t* cp0) {
  const auto len = static_cast<int64_t>(CountCodepoints(s));
  int64_t a = start.value_or(0), b = end.value_or(len);
  if (a < 0) a = std::max<int64_t>(0, a + len);
  if (b < 0) b = std::max<int64_t>(0, b + len);
  b = std::min(b, len);
  if (a > len) return false;
  if (b < a) b = a;
  auto byte_of = [&](int64_t cp) {
    size_t pos = 0;
    for (int64_t i = 0; i < cp; ++i) NextCodepoint(s, &pos);
    return pos;
  };
  *b0 = byte_of(a);
  *b1 = byte_of(b);
  *cp0 = a;
  return true;
}
}  // namespace

int64_t Find(std::string_view s, std::string_view sub, std::optional<int64_t> start,
             std::optional<int64_t> end, bool reverse) {
  size_t b0, b1;
  int64_t cp0;
  if (!SliceBytes(s, start, end, &b0, &b1, &cp0)) return -1;
  const std::string_view window = s.substr(b0, b1 - b0);
  const size_t hit = reverse ? window.rfind(sub) : window.find(sub);
  if (hit == std::string_view::npos) return -1;
  return cp0 + static_cast<int64_t>(CountCodepoints(window.substr(0, hit)));
}

int64_t Count(std::string_view s, std::string_view sub, std::optional<int64_t> start,
              std::optional<int64_t> end) {
  size_t b0, b1;
  int64_t cp0;
  if (!SliceBytes(s, start, end, &b0, &b1, &cp0)) return 0;
  const std::string_view window = s.substr(b0, b1 - b0);
  if (sub.empty()) return static_cast<int64_t>(CountCodepoints(window)) + 1;
  int64_t n = 0;
  for (size_t pos = window.find(sub); pos != std::string_view::npos;
       pos = window.find(sub, pos + sub.size())) {
    ++n;
  }
  return n;
}

std::string Pad(std::string_view s, int64_t width, std::string_view fill, int where) {
  const auto len = static_cast<int64_t>(CountCodepoints(s));
  if (width <= len) return std::string(s);
  const int64_t pad = width - len;
  int64_t left = 0;
  if (where < 0) {
    left = 0;
  } else if (where > 0) {
    left = pad;
  } else {
    left = pad / 2 + (pad & width & 1);
  }
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += s;
  for (int64_t i = left; i < pad; ++i) out += fill;
  return out;
}

}  // namespace pagellm::jinja::py
