// Jinja lexer: a hand-written equivalent of Jinja2's regex lexer (root / comment / raw / tag
// states, brace balancing inside tags, OptionalLStrip whitespace rules).
#include "src/jinja/lexer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "src/jinja/pystr.h"

namespace pagellm::jinja {

std::string DescribeTok(Tok t) {
  switch (t) {
    case Tok::kData: return "template data";
    case Tok::kVarBegin: return "begin of print statement";
    case Tok::kVarEnd: return "end of print statement";
    case Tok::kBlockBegin: return "begin of statement block";
    case Tok::kBlockEnd: return "end of statement block";
    case Tok::kName: return "name";
    case Tok::kString: return "string";
    case Tok::kInteger: return "integer";
    case Tok::kFloat: return "float";
    case Tok::kEof: return "end of template";
    default: break;
  }
  static constexpr const char* kOps[] = {"+", "-", "*", "/", "//", "**", "%", "~", "[", "]", "(",
                                         ")", "{", "}", "==", "!=", ">", ">=", "<", "<=", "=", ".",
                                         ":", "|", ",", ";"};
  return StrCat("'", kOps[static_cast<int>(t) - static_cast<int>(Tok::kAdd)], "'");
}

namespace {

struct OpSpelling {
  const char* text;
  Tok tok;
};
// Longest first, as Jinja2's operator regex.
constexpr OpSpelling kOperators[] = {
    {"//", Tok::kFloorDiv}, {"**", Tok::kPow}, {"==", Tok::kEq},   {"!=", Tok::kNe},
    {">=", Tok::kGtEq},     {"<=", Tok::kLtEq}, {"+", Tok::kAdd},  {"-", Tok::kSub},
    {"*", Tok::kMul},       {"/", Tok::kDiv},   {"%", Tok::kMod},  {"~", Tok::kTilde},
    {"[", Tok::kLBracket},  {"]", Tok::kRBracket}, {"(", Tok::kLParen}, {")", Tok::kRParen},
    {"{", Tok::kLBrace},    {"}", Tok::kRBrace}, {">", Tok::kGt},  {"<", Tok::kLt},
    {"=", Tok::kAssign},    {".", Tok::kDot},   {":", Tok::kColon}, {"|", Tok::kPipe},
    {",", Tok::kComma},     {";", Tok::kSemicolon},
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
 public:
  Lexer(std::string src, const LexOptions& o) : s_(std::move(src)), o_(o) {}

  StatusOr<std::vector<Token>> Run() {
    const size_t n = s_.size();
    while (pos_ < n) {
      size_t q = pos_;
      while (true) {
        q = s_.find('{', q);
        if (q == std::string::npos || q + 1 >= n) {
          q = std::string::npos;
          break;
        }
        const char k = s_[q + 1];
        if (k == '{' || k == '%' || k == '#') break;
        ++q;
      }
      if (q == std::string::npos) {
        Emit(Tok::kData, s_.substr(pos_), pos_);
        break;
      }
      const char kind = s_[q + 1];
      size_t after = q + 2;
      char sign = 0;
      if (after < n && (s_[after] == '-' || s_[after] == '+')) sign = s_[after];
      size_t raw_end = 0;
      const bool is_raw = kind == '%' && MatchRawBegin(after, &raw_end);
      std::string text = s_.substr(pos_, q - pos_);
      ApplyLStrip(&text, sign, kind != '{');
      if (!text.empty()) Emit(Tok::kData, std::move(text), pos_);
      if (is_raw) {
        line_starting_ = s_[raw_end - 1] == '\n';
        RETURN_IF_ERROR(LexRaw(raw_end, q));
        continue;
      }
      if (sign != 0) ++after;
      if (kind == '#') {
        RETURN_IF_ERROR(LexComment(after, q));
        continue;
      }
      Emit(kind == '{' ? Tok::kVarBegin : Tok::kBlockBegin, s_.substr(q, after - q), q);
      pos_ = after;
      RETURN_IF_ERROR(LexTag(kind == '%'));
    }
    Emit(Tok::kEof, "", n);
    return std::move(tokens_);
  }

 private:
  void Emit(Tok t, std::string text, size_t at) {
    Token tok;
    tok.type = t;
    tok.text = std::move(text);
    Position(at, &tok.line, &tok.col);
    tokens_.push_back(std::move(tok));
  }

  void Position(size_t at, int* line, int* col) {
    // Incremental (tokens are emitted in order), so long single-line templates stay linear.
    if (at < pos_cache_) {
      pos_cache_ = 0;
      line_cache_ = 1;
      col_cache_ = 1;
    }
    for (; pos_cache_ < at && pos_cache_ < s_.size(); ++pos_cache_) {
      const char c = s_[pos_cache_];
      if (c == '\n') {
        ++line_cache_;
        col_cache_ = 1;
      } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
        ++col_cache_;  // one per code point
      }
    }
    *line = line_cache_;
    *col = col_cache_;
  }

  Status Error(size_t at, std::string_view msg) {
    int line, col;
    Position(std::min(at, s_.size()), &line, &col);
    return InvalidArgument(StrCat("syntax error at line ", line, ", column ", col, ": ", msg));
  }

  size_t SkipSpace(size_t p) const {
    while (p < s_.size()) {
      size_t q = p;
      if (!py::IsSpace(py::NextCodepoint(s_, &q))) break;
      p = q;
    }
    return p;
  }

  bool StartsWith(size_t p, std::string_view lit) const {
    return s_.compare(p, lit.size(), lit) == 0;
  }

  // Jinja2's OptionalLStrip rule for the data before a tag.
  void ApplyLStrip(std::string* text, char sign, bool strippable_tag) const {
    if (sign == '-') {
      *text = py::Strip(*text, std::nullopt, false, true);
      return;
    }
    if (sign == '+' || !o_.lstrip_blocks || !strippable_tag) return;
    const size_t nl = text->rfind('\n');
    const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
    if (l_pos == 0 && !line_starting_) return;
    if (l_pos >= text->size()) return;
    if (SkipSpaceIn(*text, l_pos) == text->size()) text->resize(l_pos);
  }

  static size_t SkipSpaceIn(const std::string& t, size_t p) {
    while (p < t.size()) {
      size_t q = p;
      if (!py::IsSpace(py::NextCodepoint(t, &q))) break;
      p = q;
    }
    return p;
  }

  // `{%(-|+|)\s*raw\s*(-%}\s*|%})` with `after` just past "{%".
  bool MatchRawBegin(size_t after, size_t* end) const {
    size_t p = after;
    if (p < s_.size() && (s_[p] == '-' || s_[p] == '+')) ++p;
    p = SkipSpace(p);
    if (!StartsWith(p, "raw")) return false;
    p = SkipSpace(p + 3);
    if (StartsWith(p, "-%}")) {
      *end = SkipSpace(p + 3);
      return true;
    }
    if (StartsWith(p, "%}")) {
      *end = p + 2;
      return true;
    }
    return false;
  }

  Status LexRaw(size_t start, size_t tag_pos) {
    for (size_t q = s_.find("{%", start); q != std::string::npos; q = s_.find("{%", q + 1)) {
      size_t p = q + 2;
      char sign = 0;
      if (p < s_.size() && (s_[p] == '-' || s_[p] == '+')) sign = s_[p++];
      p = SkipSpace(p);
      if (!StartsWith(p, "endraw")) continue;
      p = SkipSpace(p + 6);
      size_t end;
      if (StartsWith(p, "+%}")) {
        end = p + 3;
      } else if (StartsWith(p, "-%}")) {
        end = SkipSpace(p + 3);
      } else if (StartsWith(p, "%}")) {
        end = p + 2;
        if (o_.trim_blocks && end < s_.size() && s_[end] == '\n') ++end;
      } else {
        continue;
      }
      std::string text = s_.substr(start, q - start);
      ApplyLStrip(&text, sign, true);
      if (!text.empty()) Emit(Tok::kData, std::move(text), start);
      line_starting_ = s_[end - 1] == '\n';
      pos_ = end;
      return absl::OkStatus();
    }
    return Error(tag_pos, "Missing end of raw directive");
  }

  Status LexComment(size_t start, size_t tag_pos) {
    const size_t e = s_.find("#}", start);
    if (e == std::string::npos) return Error(tag_pos, "Missing end of comment tag");
    size_t end;
    if (e > start && s_[e - 1] == '-') {
      end = SkipSpace(e + 2);
    } else if (e > start && s_[e - 1] == '+') {
      end = e + 2;
    } else {
      end = e + 2;
      if (o_.trim_blocks && end < s_.size() && s_[end] == '\n') ++end;
    }
    line_starting_ = s_[end - 1] == '\n';
    pos_ = end;
    return absl::OkStatus();
  }

  // Tokens inside {{ }} or {% %}, up to and including the end marker.
  Status LexTag(bool block) {
    std::vector<char> balance;
    const size_t n = s_.size();
    while (pos_ < n) {
      if (balance.empty()) {
        size_t end = 0;
        if (block) {
          if (StartsWith(pos_, "+%}")) {
            end = pos_ + 3;
          } else if (StartsWith(pos_, "-%}")) {
            end = SkipSpace(pos_ + 3);
          } else if (StartsWith(pos_, "%}")) {
            end = pos_ + 2;
            if (o_.trim_blocks && end < n && s_[end] == '\n') ++end;
          }
        } else {
          if (StartsWith(pos_, "-}}")) {
            end = SkipSpace(pos_ + 3);
          } else if (StartsWith(pos_, "}}")) {
            end = pos_ + 2;
          }
        }
        if (end != 0) {
          Emit(block ? Tok::kBlockEnd : Tok::kVarEnd, s_.substr(pos_, end - pos_), pos_);
          line_starting_ = s_[end - 1] == '\n';
          pos_ = end;
          return absl::OkStatus();
        }
      }
      const size_t ws_end = SkipSpace(pos_);
      if (ws_end != pos_) {
        pos_ = ws_end;
        continue;
      }
      const char c = s_[pos_];
      if (IsDigit(c)) {
        RETURN_IF_ERROR(LexNumber());
        continue;
      }
      if (c == '_' || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || static_cast<unsigned char>(c) >= 0x80) {
        RETURN_IF_ERROR(LexName());
        continue;
      }
      if (c == '\'' || c == '"') {
        RETURN_IF_ERROR(LexString());
        continue;
      }
      bool matched = false;
      for (const auto& op : kOperators) {
        if (!StartsWith(pos_, op.text)) continue;
        if (op.tok == Tok::kLBrace || op.tok == Tok::kLParen || op.tok == Tok::kLBracket) {
          balance.push_back(op.tok == Tok::kLBrace ? '}' : op.tok == Tok::kLParen ? ')' : ']');
        } else if (op.tok == Tok::kRBrace || op.tok == Tok::kRParen || op.tok == Tok::kRBracket) {
          if (balance.empty()) return Error(pos_, StrCat("unexpected '", op.text, "'"));
          if (balance.back() != op.text[0]) {
            return Error(pos_, StrCat("unexpected '", op.text, "', expected '", std::string(1, balance.back()), "'"));
          }
          balance.pop_back();
        }
        Emit(op.tok, op.text, pos_);
        pos_ += std::strlen(op.text);
        matched = true;
        break;
      }
      if (!matched) {
        size_t q = pos_;
        py::NextCodepoint(s_, &q);
        return Error(pos_, StrCat("unexpected char ", py::StrRepr(s_.substr(pos_, q - pos_))));
      }
    }
    return absl::OkStatus();  // end of input inside a tag: the parser reports it
  }

  // Digits with single underscores between them: (\d+_)*\d+. Returns the end or `p` if none.
  size_t Digits(size_t p) const {
    size_t q = p;
    while (q < s_.size() && IsDigit(s_[q])) {
      while (q < s_.size() && IsDigit(s_[q])) ++q;
      if (q + 1 < s_.size() && s_[q] == '_' && IsDigit(s_[q + 1])) ++q;
    }
    return q;
  }

  Status LexNumber() {
    const size_t start = pos_;
    const size_t n = s_.size();
    // float: (?<!\.) D ((\.D)? e[+-]?D | \.D)
    if (start == 0 || s_[start - 1] != '.') {
      size_t p = Digits(start);
      bool is_float = false;
      if (p < n && s_[p] == '.' && p + 1 < n && IsDigit(s_[p + 1])) {
        p = Digits(p + 1);
        is_float = true;
      }
      if (p < n && (s_[p] | 0x20) == 'e') {
        size_t q = p + 1;
        if (q < n && (s_[q] == '+' || s_[q] == '-')) ++q;
        if (q < n && IsDigit(s_[q])) {
          p = Digits(q);
          is_float = true;
        }
      }
      if (is_float) {
        std::string clean;
        for (size_t i = start; i < p; ++i) {
          if (s_[i] != '_') clean.push_back(s_[i]);
        }
        Emit(Tok::kFloat, clean, start);
        auto v = py::ParseFloat(clean);
        tokens_.back().float_value = v ? *v : 0.0;
        pos_ = p;
        return absl::OkStatus();
      }
    }
    // integer: 0b / 0o / 0x (with optional single underscores), [1-9](_?\d)*, 0(_?0)*
    size_t p = start + 1;
    int base = 10;
    if (s_[start] == '0' && p < n) {
      const char k = static_cast<char>(s_[p] | 0x20);
      base = k == 'b' ? 2 : k == 'o' ? 8 : k == 'x' ? 16 : 10;
    }
    auto digit_ok = [&](char c) {
      if (base == 2) return c == '0' || c == '1';
      if (base == 8) return c >= '0' && c <= '7';
      if (base == 16) return IsDigit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
      return s_[start] == '0' ? c == '0' : IsDigit(c);
    };
    size_t q = base == 10 ? p : p + 1;
    size_t end = base == 10 ? p : start + 1;  // "0b" without digits is just "0"
    while (q < n) {
      size_t r = q;
      if (s_[r] == '_') ++r;
      if (r < n && digit_ok(s_[r])) {
        q = end = r + 1;
      } else {
        break;
      }
    }
    std::string text = s_.substr(start, end - start);
    bool overflow = false;
    auto v = py::ParseInt(text, 0, &overflow);
    if (!v) {
      if (overflow) return Error(start, "integer literal too large (pagellm integers are 64-bit)");
      v = 0;  // "00", "0_0": value zero
    }
    Emit(Tok::kInteger, text, start);
    tokens_.back().int_value = *v;
    pos_ = end;
    return absl::OkStatus();
  }

  Status LexName() {
    const size_t start = pos_;
    size_t p = pos_;
    while (p < s_.size()) {
      const char c = s_[p];
      if (c == '_' || IsDigit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) {
        ++p;
        continue;
      }
      if (static_cast<unsigned char>(c) < 0x80) break;
      size_t q = p;
      const char32_t cp = py::NextCodepoint(s_, &q);
      if (!py::IsAlnum(cp)) break;
      p = q;
    }
    if (p == start) {
      size_t q = pos_;
      py::NextCodepoint(s_, &q);
      return Error(pos_, StrCat("unexpected char ", py::StrRepr(s_.substr(pos_, q - pos_))));
    }
    Emit(Tok::kName, s_.substr(start, p - start), start);
    pos_ = p;
    return absl::OkStatus();
  }

  // '...' or "..." with backslash escapes decoded like Python's unicode-escape codec.
  Status LexString() {
    const size_t start = pos_;
    const char quote = s_[pos_];
    size_t p = pos_ + 1;
    while (p < s_.size() && s_[p] != quote) p += s_[p] == '\\' ? 2 : 1;
    if (p >= s_.size()) return Error(start, StrCat("unexpected char ", py::StrRepr(std::string(1, quote))));
    std::string out;
    for (size_t i = start + 1; i < p;) {
      const char c = s_[i];
      if (c != '\\') {
        out.push_back(c);
        ++i;
        continue;
      }
      const char e = s_[i + 1];
      i += 2;
      auto hex = [&](int digits) -> StatusOr<char32_t> {
        char32_t v = 0;
        for (int k = 0; k < digits; ++k) {
          const char h = i < p ? s_[i] : '\0';
          const int d = IsDigit(h) ? h - '0' : ((h | 0x20) >= 'a' && (h | 0x20) <= 'f') ? (h | 0x20) - 'a' + 10 : -1;
          if (d < 0) return Error(start, StrCat("truncated \\", std::string(1, e), " escape"));
          v = v * 16 + static_cast<char32_t>(d);
          ++i;
        }
        return v;
      };
      switch (e) {
        case '\n': break;
        case '\\': out.push_back('\\'); break;
        case '\'': out.push_back('\''); break;
        case '"': out.push_back('"'); break;
        case 'a': out.push_back('\a'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'v': out.push_back('\v'); break;
        case 'x':
        case 'u':
        case 'U': {
          ASSIGN_OR_RETURN(char32_t cp, hex(e == 'x' ? 2 : e == 'u' ? 4 : 8));
          if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return Error(start, "string escape is not a valid Unicode scalar value");
          }
          py::AppendUtf8(cp, &out);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            char32_t v = static_cast<char32_t>(e - '0');
            for (int k = 0; k < 2 && i < p && s_[i] >= '0' && s_[i] <= '7'; ++k) v = v * 8 + (s_[i++] - '0');
            py::AppendUtf8(v, &out);
          } else {
            out.push_back('\\');  // unknown escapes are kept, as in Python
            i -= 1;
          }
      }
    }
    Emit(Tok::kString, std::move(out), start);
    pos_ = p + 1;
    return absl::OkStatus();
  }

  std::string s_;
  const LexOptions& o_;
  size_t pos_ = 0;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
  size_t pos_cache_ = 0;
  int line_cache_ = 1, col_cache_ = 1;
};

}  // namespace

StatusOr<std::vector<Token>> Tokenize(std::string_view source, const LexOptions& options) {
  // Newline normalization: \r\n and \r -> \n; then drop one trailing newline.
  std::string src;
  src.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      src.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      src.push_back(source[i]);
    }
  }
  if (!src.empty() && src.back() == '\n') src.pop_back();
  Lexer lexer(std::move(src), options);
  return lexer.Run();
}

}  // namespace pagellm::jinja
