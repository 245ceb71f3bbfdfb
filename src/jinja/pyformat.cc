// Python-compatible number formatting and parsing (float repr, int()/float()/round()) and
// string escaping (str repr, json.dumps strings, HTML escape).
#include <charconv>
#include <cmath>
#include <cstdio>

#include "src/jinja/pystr.h"

namespace pagellm::jinja::py {

// ---------------------------------------------------------------- numbers

std::string FloatRepr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  std::string out;
  if (sci[0] == '-') {
    out.push_back('-');
    sci.remove_prefix(1);
  }
  const size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits.push_back(c);
  }
  int exp10 = 0;
  std::from_chars(sci.data() + e + 1 + (sci[e + 1] == '+'), sci.data() + sci.size(), exp10);
  const int decpt = exp10 + 1;
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0.";
      out.append(static_cast<size_t>(-decpt), '0');
      out += digits;
    } else if (static_cast<size_t>(decpt) >= digits.size()) {
      out += digits;
      out.append(static_cast<size_t>(decpt) - digits.size(), '0');
      out += ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(decpt));
      out += '.';
      out += digits.substr(static_cast<size_t>(decpt));
    }
    return out;
  }
  out += digits[0];
  if (digits.size() > 1) {
    out += '.';
    out += digits.substr(1);
  }
  char ebuf[16];
  std::snprintf(ebuf, sizeof(ebuf), "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
  out += ebuf;
  return out;
}

std::string IntStr(int64_t i) { return std::to_string(i); }

namespace {
int DigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 99;
}
}  // namespace

std::optional<int64_t> ParseInt(std::string_view text, int base, bool* overflow) {
  *overflow = false;
  const std::string trimmed = Strip(text, std::nullopt, true, true);
  std::string_view s = trimmed;
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  bool had_prefix = false;
  if (s.size() >= 2 && s[0] == '0') {
    const char p = static_cast<char>(s[1] | 0x20);
    const int pb = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
    if (pb != 0 && (base == 0 || base == pb)) {
      base = pb;
      s.remove_prefix(2);
      had_prefix = true;
    }
  }
  bool zero_base = base == 0;
  if (zero_base) base = 10;
  if (s.empty() || base < 2 || base > 36) return std::nullopt;
  // Underscores: only single ones between digits (or right after a base prefix).
  if (s.front() == '_' && !had_prefix) return std::nullopt;
  if (s.back() == '_') return std::nullopt;
  unsigned __int128 v = 0;
  bool prev_us = had_prefix;
  bool nonzero_seen = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (prev_us && i > 0) return std::nullopt;
      prev_us = true;
      continue;
    }
    prev_us = false;
    const int d = DigitValue(s[i]);
    if (d >= base) return std::nullopt;
    if (d != 0) nonzero_seen = true;
    v = v * static_cast<unsigned>(base) + static_cast<unsigned>(d);
    if (v > (static_cast<unsigned __int128>(1) << 64)) *overflow = true;
  }
  // base 0 rejects leading zeros in non-zero decimals ("010").
  if (zero_base && !had_prefix && s.size() > 1 && s[0] == '0' && nonzero_seen) return std::nullopt;
  const unsigned __int128 limit = neg ? (static_cast<unsigned __int128>(1) << 63)
                                      : (static_cast<unsigned __int128>(1) << 63) - 1;
  if (*overflow || v > limit) {
    *overflow = true;
    return std::nullopt;
  }
  return neg ? static_cast<int64_t>(-static_cast<__int128>(v)) : static_cast<int64_t>(v);
}

std::optional<double> ParseFloat(std::string_view text) {
  const std::string trimmed = Strip(text, std::nullopt, true, true);
  std::string_view s = trimmed;
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  std::string lower;
  for (char c : s) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
  double v;
  if (lower == "inf" || lower == "infinity") {
    v = HUGE_VAL;
  } else if (lower == "nan") {
    v = std::nan("");
  } else {
    std::string clean;
    bool seen_digit = false;
    for (size_t i = 0; i < s.size(); ++i) {
      const char c = s[i];
      if (c == '_') {
        const bool ok = i > 0 && i + 1 < s.size() && DigitValue(s[i - 1]) < 10 &&
                        DigitValue(s[i + 1]) < 10;
        if (!ok) return std::nullopt;
        continue;
      }
      if ((c >= '0' && c <= '9')) {
        seen_digit = true;
      } else if (!(c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) {
        return std::nullopt;
      }
      clean.push_back(c);
    }
    if (!seen_digit) return std::nullopt;
    auto res = std::from_chars(clean.data(), clean.data() + clean.size(), v,
                               std::chars_format::general);
    if (res.ec == std::errc::result_out_of_range) {
      // from_chars reports overflow/underflow; Python gives inf / 0.0.
      bool big = clean.find_first_of("eE") != std::string::npos &&
                 clean[clean.find_first_of("eE") + 1] != '-';
      v = big ? HUGE_VAL : 0.0;
    } else if (res.ec != std::errc() || res.ptr != clean.data() + clean.size()) {
      return std::nullopt;
    }
  }
  return neg ? -v : v;
}

double RoundFloat(double x, int64_t ndigits) {
  if (!std::isfinite(x) || x == 0.0) return x;
  if (ndigits > 330) return x;
  if (ndigits >= 0) {
    std::string buf(400, '\0');
    int n = std::snprintf(buf.data(), buf.size(), "%.*f", static_cast<int>(ndigits), x);
    if (n < 0) return x;
    if (static_cast<size_t>(n) >= buf.size()) {
      buf.resize(static_cast<size_t>(n) + 1);
      std::snprintf(buf.data(), buf.size(), "%.*f", static_cast<int>(ndigits), x);
    }
    double r = 0;
    std::from_chars(buf.data(), buf.data() + n, r);
    return r;
  }
  if (ndigits < -330) return std::copysign(0.0, x);
  const double p = std::pow(10.0, static_cast<double>(-ndigits));
  const double r = std::nearbyint(x / p) * p;
  return r == 0.0 ? std::copysign(0.0, x) : r;
}

// ---------------------------------------------------------------- repr / json / html

std::string StrRepr(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back(quote);
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t start = pos;
    const char32_t c = NextCodepoint(s, &pos);
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (IsPrintable(c)) {
      out += s.substr(start, pos - start);
    } else {
      char buf[16];
      if (c < 0x100) {
        std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(c));
      } else if (c < 0x10000) {
        std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
      } else {
        std::snprintf(buf, sizeof(buf), "\\U%08x", static_cast<unsigned>(c));
      }
      out += buf;
    }
  }
  out.push_back(quote);
  return out;
}

void AppendJsonString(std::string_view s, bool ensure_ascii, std::string* out) {
  out->push_back('"');
  size_t pos = 0;
  char buf[16];
  while (pos < s.size()) {
    const size_t start = pos;
    const char32_t c = NextCodepoint(s, &pos);
    switch (c) {
      case '"': *out += "\\\""; continue;
      case '\\': *out += "\\\\"; continue;
      case '\n': *out += "\\n"; continue;
      case '\r': *out += "\\r"; continue;
      case '\t': *out += "\\t"; continue;
      case '\b': *out += "\\b"; continue;
      case '\f': *out += "\\f"; continue;
      default: break;
    }
    if (c < 0x20 || (ensure_ascii && c >= 0x7F)) {
      if (c >= 0x10000) {
        const char32_t v = c - 0x10000;
        std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 | (v >> 10)),
                      static_cast<unsigned>(0xDC00 | (v & 0x3FF)));
      } else {
        std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
      }
      *out += buf;
    } else {
      *out += s.substr(start, pos - start);
    }
  }
  out->push_back('"');
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

}  // namespace pagellm::jinja::py
