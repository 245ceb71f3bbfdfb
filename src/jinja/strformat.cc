// Python str.format() and format specs, for templates that call "...".format(...).
#include "src/jinja/strformat.h"

#include <cmath>
#include <cstdio>

#include "src/jinja/pystr.h"

namespace pagellm::jinja {

namespace {

struct Spec {
  std::string fill = " ";
  char align = 0;  // < > ^ = or 0 (type default)
  char sign = '-';
  bool alternate = false;
  int64_t width = 0;
  char grouping = 0;
  int64_t precision = -1;
  char type = 0;
};

StatusOr<Spec> ParseSpec(std::string_view s) {
  Spec spec;
  size_t i = 0;
  auto is_align = [](char c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  if (!s.empty()) {
    size_t first_end = 0;
    py::NextCodepoint(s, &first_end);
    if (first_end < s.size() && is_align(s[first_end])) {
      spec.fill = std::string(s.substr(0, first_end));
      spec.align = s[first_end];
      i = first_end + 1;
    } else if (is_align(s[0])) {
      spec.align = s[0];
      i = 1;
    }
  }
  if (i < s.size() && (s[i] == '+' || s[i] == '-' || s[i] == ' ')) spec.sign = s[i++];
  if (i < s.size() && s[i] == '#') {
    spec.alternate = true;
    ++i;
  }
  if (i < s.size() && s[i] == '0') {
    if (spec.align == 0) {
      spec.fill.assign(1, '0');
      spec.align = '=';
    }
    ++i;
  }
  auto number = [&](int64_t* out) {
    int64_t v = 0;
    bool any = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      v = std::min<int64_t>(v * 10 + (s[i++] - '0'), 1'000'000'000);
      any = true;
    }
    if (any) *out = v;
    return any;
  };
  number(&spec.width);
  if (i < s.size() && (s[i] == ',' || s[i] == '_')) spec.grouping = s[i++];
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!number(&spec.precision)) return InvalidArgument("Format specifier missing precision");
  }
  if (i < s.size()) spec.type = s[i++];
  if (i != s.size()) return InvalidArgument("Invalid format specifier");
  if (spec.width > 100000 || spec.precision > 1000) {
    return InvalidArgument("format width or precision too large");
  }
  return spec;
}

std::string Group(std::string digits, char sep) {
  if (sep == 0) return digits;
  std::string out;
  const size_t n = digits.size();
  for (size_t k = 0; k < n; ++k) {
    if (k > 0 && (n - k) % 3 == 0) out.push_back(sep);
    out.push_back(digits[k]);
  }
  return out;
}

std::string Pad(const Spec& spec, std::string sign, std::string body, char default_align) {
  const char align = spec.align ? spec.align : default_align;
  const auto len = static_cast<int64_t>(py::CountCodepoints(sign) + py::CountCodepoints(body));
  if (len >= spec.width) return sign + body;
  const int64_t pad = spec.width - len;
  auto fill = [&](int64_t k) {
    std::string out;
    for (int64_t x = 0; x < k; ++x) out += spec.fill;
    return out;
  };
  switch (align) {
    case '<': return sign + body + fill(pad);
    case '^': return fill(pad / 2) + sign + body + fill(pad - pad / 2);
    case '=': return sign + fill(pad) + body;
    default: return fill(pad) + sign + body;
  }
}

std::string CFormatDouble(const char* fmt, int precision, double d) {
  char buf[1500];
  std::snprintf(buf, sizeof(buf), fmt, precision, d);
  return buf;
}

StatusOr<std::string> FormatFloat(double d, const Spec& spec) {
  std::string sign = std::signbit(d) && !std::isnan(d) ? "-" : (spec.sign == '+' ? "+" : spec.sign == ' ' ? " " : "");
  const double a = std::fabs(d);
  std::string body;
  char type = spec.type;
  if (std::isinf(a)) {
    body = (type == 'F' || type == 'E' || type == 'G') ? "INF" : "inf";
  } else if (std::isnan(a)) {
    body = (type == 'F' || type == 'E' || type == 'G') ? "NAN" : "nan";
  } else if (type == 0 && spec.precision < 0) {
    body = py::FloatRepr(a);
  } else {
    const int p = static_cast<int>(spec.precision < 0 ? 6 : spec.precision);
    switch (type) {
      case 'f':
      case 'F': body = CFormatDouble("%.*f", p, a); break;
      case 'e': body = CFormatDouble("%.*e", p, a); break;
      case 'E': body = CFormatDouble("%.*E", p, a); break;
      case '%': body = CFormatDouble("%.*f", p, a * 100) + "%"; break;
      case 'g':
      case 'G':
      case 0:
        body = CFormatDouble(type == 'G' ? "%.*G" : "%.*g", p == 0 ? 1 : p, a);
        if (type == 0 && body.find_first_of(".eEn") == std::string::npos) body += ".0";
        break;
      default: return InvalidArgument(StrCat("Unknown format code '", std::string(1, type), "' for object of type 'float'"));
    }
  }
  if (spec.grouping) {
    const size_t end = body.find_first_not_of("0123456789");
    body = Group(body.substr(0, end), spec.grouping) + (end == std::string::npos ? "" : body.substr(end));
  }
  return Pad(spec, sign, body, '>');
}

}  // namespace

StatusOr<std::string> FormatValue(const Value& v, std::string_view spec_text) {
  if (v.is_undefined()) {
    if (spec_text.empty()) return std::string();  // object.__format__: str(Undefined)
    return UndefinedError(v);
  }
  ASSIGN_OR_RETURN(Spec spec, ParseSpec(spec_text));
  if (v.is_string() || (spec_text.empty() && !v.is_number())) {
    if (!v.is_string() && !spec_text.empty()) {
      return TypeError(StrCat("unsupported format string passed to ", TypeName(v), ".__format__"));
    }
    if (spec.type != 0 && spec.type != 's') {
      return InvalidArgument(StrCat("Unknown format code '", std::string(1, spec.type), "' for object of type 'str'"));
    }
    std::string body = v.is_string() ? v.str() : ToStr(v);
    if (spec.precision >= 0) {
      auto cps = py::Decode(body);
      if (static_cast<int64_t>(cps.size()) > spec.precision) cps.resize(static_cast<size_t>(spec.precision));
      body = py::Encode(cps);
    }
    return Pad(spec, "", body, '<');
  }
  if (!v.is_number()) {
    return TypeError(StrCat("unsupported format string passed to ", TypeName(v), ".__format__"));
  }
  if (v.is_float() || (spec.type != 0 && std::string_view("eEfFgG%").find(spec.type) != std::string_view::npos)) {
    if (v.is_bool() && spec.type == 0) return ToStr(v);
    return FormatFloat(v.d(), spec);
  }
  if (v.is_bool() && spec.type == 0) return Pad(spec, "", ToStr(v), '<');
  const int64_t i = v.i();
  const uint64_t mag = i < 0 ? 0 - static_cast<uint64_t>(i) : static_cast<uint64_t>(i);
  std::string sign = i < 0 ? "-" : (spec.sign == '+' ? "+" : spec.sign == ' ' ? " " : "");
  std::string body;
  switch (spec.type) {
    case 0:
    case 'd':
    case 'n': body = Group(std::to_string(mag), spec.grouping); break;
    case 'x':
    case 'X':
    case 'o':
    case 'b': {
      const int base = spec.type == 'o' ? 8 : spec.type == 'b' ? 2 : 16;
      const char* digits = spec.type == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
      uint64_t m = mag;
      do {
        body.insert(body.begin(), digits[m % static_cast<uint64_t>(base)]);
        m /= static_cast<uint64_t>(base);
      } while (m != 0);
      if (spec.alternate) sign += spec.type == 'o' ? "0o" : spec.type == 'b' ? "0b" : spec.type == 'X' ? "0X" : "0x";
      break;
    }
    case 'c': py::AppendUtf8(static_cast<char32_t>(mag), &body); break;
    default: return InvalidArgument(StrCat("Unknown format code '", std::string(1, spec.type), "' for object of type 'int'"));
  }
  return Pad(spec, sign, body, '>');
}

StatusOr<std::string> StrDotFormat(Interpreter& in, std::string_view fmt, const CallArgs& args) {
  std::string out;
  int64_t auto_index = 0;
  bool used_auto = false, used_manual = false;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out.push_back('}');
        ++i;
        continue;
      }
      return InvalidArgument("Single '}' encountered in format string");
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    const size_t close = fmt.find('}', i);
    if (close == std::string_view::npos) return InvalidArgument("expected '}' before end of string");
    std::string_view field = fmt.substr(i + 1, close - i - 1);
    if (field.find('{') != std::string_view::npos) {
      return InvalidArgument("nested replacement fields in format specs are not supported");
    }
    i = close;
    std::string_view spec;
    if (const size_t colon = field.find(':'); colon != std::string_view::npos) {
      spec = field.substr(colon + 1);
      field = field.substr(0, colon);
    }
    char conversion = 0;
    if (const size_t bang = field.find('!'); bang != std::string_view::npos) {
      if (bang + 2 != field.size()) return InvalidArgument("expected ':' after conversion specifier");
      conversion = field[bang + 1];
      field = field.substr(0, bang);
    }
    size_t name_end = field.find_first_of(".[");
    std::string_view head = field.substr(0, name_end);
    Value v;
    if (head.empty() || (head[0] >= '0' && head[0] <= '9')) {
      int64_t index;
      if (head.empty()) {
        if (used_manual) return InvalidArgument("cannot switch from manual field specification to automatic field numbering");
        used_auto = true;
        index = auto_index++;
      } else {
        if (used_auto) return InvalidArgument("cannot switch from automatic field numbering to manual field specification");
        used_manual = true;
        index = 0;
        for (char d : head) {
          if (d < '0' || d > '9') return InvalidArgument("invalid format field");
          index = std::min<int64_t>(index * 10 + (d - '0'), 1'000'000);
        }
      }
      if (index >= static_cast<int64_t>(args.pos.size())) {
        return InvalidArgument(StrCat("Replacement index ", index, " out of range for positional args tuple"));
      }
      v = args.pos[static_cast<size_t>(index)];
    } else {
      bool found = false;
      for (const auto& [k, x] : args.kw) {
        if (k == head) {
          v = x;
          found = true;
        }
      }
      if (!found) return InvalidArgument(StrCat("KeyError: '", head, "'"));
    }
    // .attr and [key] accessors
    while (name_end != std::string_view::npos && name_end < field.size()) {
      if (field[name_end] == '.') {
        const size_t next = field.find_first_of(".[", name_end + 1);
        ASSIGN_OR_RETURN(v, in.GetAttr(v, field.substr(name_end + 1, next - name_end - 1)));
        name_end = next;
      } else {
        const size_t rb = field.find(']', name_end);
        if (rb == std::string_view::npos) return InvalidArgument("Missing ']' in format string");
        std::string_view key = field.substr(name_end + 1, rb - name_end - 1);
        bool numeric = !key.empty() && key.find_first_not_of("0123456789") == std::string_view::npos;
        Value k = numeric ? Value::Int(std::stoll(std::string(key.substr(0, 15)))) : Value::Str(std::string(key));
        ASSIGN_OR_RETURN(v, in.GetItem(v, k));
        name_end = rb + 1;
      }
    }
    if (conversion == 'r' || conversion == 'a') {
      v = Value::Str(Repr(v));
    } else if (conversion == 's') {
      v = Value::Str(ToStr(v));
    } else if (conversion != 0) {
      return InvalidArgument(StrCat("Unknown conversion specifier ", std::string(1, conversion)));
    }
    ASSIGN_OR_RETURN(std::string piece, FormatValue(v, spec));
    out += piece;
    RETURN_IF_ERROR(in.ChargeBytes(out.size()));
  }
  return out;
}

}  // namespace pagellm::jinja
