// Jinja2 built-in filters on strings and numbers (trim, replace, indent, int, round, tojson, ...)
// and the filter registry. Sequence filters live in filters_seq.cc.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "src/jinja/builtins.h"
#include "src/jinja/filters_internal.h"
#include "src/jinja/json.h"
#include "src/jinja/pystr.h"

namespace pagellm::jinja {
namespace filters {

StatusOr<std::string> SoftStr(Interpreter& in, const Value& v) {
  std::string s = ToStr(v);
  RETURN_IF_ERROR(in.ChargeBytes(s.size()));
  return s;
}

namespace {

// Filters that apply a str method to soft_str(value) keep Markup-ness, as Markup's methods do.
Value SameKind(const Value& like, std::string s) {
  return like.is_markup() ? Value::Markup(std::move(s)) : Value::Str(std::move(s));
}

StatusOr<Value> Trim(Interpreter& in, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(auto a, BindArgs("trim", args, {"chars"}));
  std::optional<std::string> chars;
  if (a[0] && !a[0]->is_none()) {
    if (!a[0]->is_string()) return TypeError("strip arg must be None or str");
    chars = a[0]->str();
  }
  ASSIGN_OR_RETURN(std::string s, SoftStr(in, v));
  return SameKind(v, py::Strip(s, chars, true, true));
}

template <std::string (*F)(std::string_view)>
StatusOr<Value> StrMap(Interpreter& in, const Value& v, CallArgs& args) {
  RETURN_IF_ERROR(BindArgs("filter", args, {}).status());
  ASSIGN_OR_RETURN(std::string s, SoftStr(in, v));
  return SameKind(v, F(s));
}

// Jinja's title: capitalize each piece between runs of [-\s({[<].
std::string JinjaTitle(std::string_view s) {
  std::string out;
  bool at_start = true;
  size_t pos = 0;
  while (pos < s.size()) {
    const char32_t c = py::NextCodepoint(s, &pos);
    const bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || py::IsSpace(c);
    if (sep) {
      py::AppendUtf8(c, &out);
      at_start = true;
    } else {
      std::string one;
      py::AppendUtf8(c, &one);
      out += at_start ? py::Upper(one) : py::Lower(one);
      at_start = false;
    }
  }
  return out;
}

StatusOr<Value> TitleFilter(Interpreter& in, const Value& v, CallArgs& args) {
  RETURN_IF_ERROR(BindArgs("title", args, {}).status());
  ASSIGN_OR_RETURN(std::string s, SoftStr(in, v));
  return Value::Str(JinjaTitle(s));  // joined pieces: a plain str even for Markup input
}

StatusOr<Value> Replace(Interpreter& in, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(auto a, BindArgs("replace", args, {"old", "new", "count"}));
  if (!a[0] || !a[1]) return TypeError("replace() missing required arguments 'old' and 'new'");
  int64_t count = -1;
  if (a[2] && !a[2]->is_none()) {
    ASSIGN_OR_RETURN(count, IntArg("replace", "count", *a[2]));
  }
  ASSIGN_OR_RETURN(std::string s, SoftStr(in, v));
  const std::string old_s = ToStr(*a[0]), new_s = ToStr(*a[1]);
  const size_t n = old_s.empty() ? py::CountCodepoints(s) + 1 : s.size() / old_s.size() + 1;
  RETURN_IF_ERROR(in.ChargeBytes(s.size() + n * new_s.size()));
  return Value::Str(py::Replace(s, old_s, new_s, count));
}

StatusOr<Value> Default(Interpreter& in, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(auto a, BindArgs("default", args, {"default_value", "boolean"}));
  const bool boolean = a[1] && Truthy(*a[1]);
  if (v.is_undefined() || (boolean && !Truthy(v))) return a[0].value_or(Value::Str(""));
  return v;
}

StatusOr<Value> Length(Interpreter& in, const Value& v, CallArgs& args) {
  RETURN_IF_ERROR(BindArgs("length", args, {}).status());
  switch (v.kind()) {
    case Kind::kUndefined: return Value::Int(0);
    case Kind::kString: return Value::Int(static_cast<int64_t>(py::CountCodepoints(v.str())));
    case Kind::kList:
    case Kind::kTuple: return Value::Int(static_cast<int64_t>(v.list()->items.size()));
    case Kind::kDict: return Value::Int(static_cast<int64_t>(v.dict()->size()));
    case Kind::kLoop: return Value::Int(static_cast<int64_t>(v.loop()->items->items.size()));
    default: return TypeError(StrCat("object of type '", TypeName(v), "' has no len()"));
  }
}

StatusOr<Value> String(Interpreter& in, const Value& v, CallArgs& args) {
  RETURN_IF_ERROR(BindArgs("string", args, {}).status());
  if (v.is_string()) return v;
  ASSIGN_OR_RETURN(std::string s, SoftStr(in, v));
  return Value::Str(std::move(s));
}

StatusOr<Value> Int(Interpreter& in, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(auto a, BindArgs("int", args, {"default", "base"}));
  const Value dflt = a[0].value_or(Value::Int(0));
  int64_t base = 10;
  if (a[1]) {
    ASSIGN_OR_RETURN(base, IntArg("int", "base", *a[1]));
  }
  if (v.is_undefined()) return UndefinedError(v);
  if (v.is_integral()) return Value::Int(v.i());
  if (v.is_float()) {
    const double d = std::trunc(v.d());
    if (std::isnan(d)) return InvalidArgument("cannot convert float NaN to integer");
    if (!(d >= -9.2233720368547758e18 && d < 9.2233720368547758e18)) {
      return InvalidArgument("cannot convert float infinity (or a huge float) to a 64-bit integer");
    }
    return Value::Int(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    bool overflow = false;
    if (base != 0 && (base < 2 || base > 36)) return InvalidArgument("int() base must be >= 2 and <= 36, or 0");
    if (auto i = py::ParseInt(v.str(), static_cast<int>(base), &overflow)) return Value::Int(*i);
    if (overflow) return InvalidArgument("integer overflow (pagellm integers are 64-bit)");
    // "42.23"|int gives 42: Jinja retries through float().
    if (auto f = py::ParseFloat(v.str())) {
      CallArgs none;
      return Int(in, Value::Float(*f), none);
    }
  }
  return dflt;
}

StatusOr<Value> Float(Interpreter& in, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(auto a, BindArgs("float", args, {"default"}));
  if (v.is_undefined()) return UndefinedError(v);
  if (v.is_number()) return Value::Float(v.d());
  if (v.is_string()) {
    if (auto f = py::ParseFloat(v.str())) return Value::Float(*f);
  }
  return a[0].value_or(Value::Float(0.0));
}

StatusOr<Value> Abs(Interpreter& in, const Value& v, CallArgs& args) {
  RETURN_IF_ERROR(BindArgs("abs", args, {}).status());
  if (v.is_float()) return Value::Float(std::fabs(v.d()));
  if (v.is_integral()) {
    if (v.i() == INT64_MIN) return InvalidArgument("integer overflow (pagellm integers are 64-bit)");
    return Value::Int(v.i() < 0 ? -v.i() : v.i());
  }
  if (v.is_undefined()) return UndefinedError(v);
  return TypeError(StrCat("bad operand type for abs(): '", TypeName(v), "'"));
}

StatusOr<Value> Round(Interpreter& in, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(auto a, BindArgs("round", args, {"precision", "method"}));
  int64_t precision = 0;
  if (a[0]) {
    ASSIGN_OR_RETURN(precision, IntArg("round", "precision", *a[0]));
  }
  const std::string method = a[1] ? ToStr(*a[1]) : "common";
  if (method != "common" && method != "ceil" && method != "floor") {
    return InvalidArgument("method must be common, ceil or floor");
  }
  if (v.is_undefined()) return UndefinedError(v);
  if (!v.is_number()) return TypeError(StrCat("type ", TypeName(v), " doesn't define __round__ method"));
  if (method == "common") {
    if (v.is_integral()) {
      if (precision >= 0) return Value::Int(v.i());
      if (precision < -18) return Value::Int(0);
      int64_t p = 1;
      for (int64_t k = 0; k < -precision; ++k) p *= 10;
      const int64_t x = v.i();
      int64_t q = x / p, r = x % p;
      if (r < 0) {
        r += p;
        q -= 1;
      }
      if (2 * r > p || (2 * r == p && (q & 1))) q += 1;  // ties to even
      return Value::Int(q * p);
    }
    return Value::Float(py::RoundFloat(v.d(), precision));
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double x = v.d() * scale;
  return Value::Float((method == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
}

StatusOr<Value> Safe(Interpreter& in, const Value& v, CallArgs& args) {
  RETURN_IF_ERROR(BindArgs("safe", args, {}).status());
  ASSIGN_OR_RETURN(std::string s, SoftStr(in, v));
  return Value::Markup(std::move(s));
}

StatusOr<Value> Escape(Interpreter& in, const Value& v, CallArgs& args) {
  RETURN_IF_ERROR(BindArgs("escape", args, {}).status());
  if (v.is_markup()) return v;  // already safe
  ASSIGN_OR_RETURN(std::string s, SoftStr(in, v));
  RETURN_IF_ERROR(in.ChargeBytes(s.size() * 5));
  return Value::Markup(py::HtmlEscape(s));
}

StatusOr<Value> ForceEscape(Interpreter& in, const Value& v, CallArgs& args) {
  RETURN_IF_ERROR(BindArgs("forceescape", args, {}).status());
  ASSIGN_OR_RETURN(std::string s, SoftStr(in, v));
  RETURN_IF_ERROR(in.ChargeBytes(s.size() * 5));
  return Value::Markup(py::HtmlEscape(s));
}

StatusOr<Value> Capitalize(Interpreter& in, const Value& v, CallArgs& args) {
  return StrMap<py::Capitalize>(in, v, args);
}

StatusOr<Value> Center(Interpreter& in, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(auto a, BindArgs("center", args, {"width"}));
  int64_t width = 80;
  if (a[0]) {
    ASSIGN_OR_RETURN(width, IntArg("center", "width", *a[0]));
  }
  RETURN_IF_ERROR(in.ChargeBytes(static_cast<size_t>(std::max<int64_t>(width, 0))));
  ASSIGN_OR_RETURN(std::string s, SoftStr(in, v));
  return SameKind(v, py::Pad(s, width, " ", 0));
}

StatusOr<Value> Indent(Interpreter& in, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(auto a, BindArgs("indent", args, {"width", "first", "blank"}));
  std::string indention = "    ";
  if (a[0]) {
    if (a[0]->is_string()) {
      indention = a[0]->str();
    } else {
      ASSIGN_OR_RETURN(int64_t w, IntArg("indent", "width", *a[0]));
      RETURN_IF_ERROR(in.ChargeBytes(static_cast<size_t>(std::max<int64_t>(w, 0))));
      indention.assign(static_cast<size_t>(std::max<int64_t>(w, 0)), ' ');
    }
  }
  const bool first = a[1] && Truthy(*a[1]);
  const bool blank = a[2] && Truthy(*a[2]);
  if (v.is_undefined()) return UndefinedError(v);
  if (!v.is_string()) return TypeError(StrCat("unsupported operand type(s) for +=: '", TypeName(v), "' and 'str'"));
  const std::vector<std::string> lines = py::SplitLines(v.str() + "\n", false);
  RETURN_IF_ERROR(in.ChargeBytes(v.str().size() + lines.size() * (indention.size() + 1)));
  std::string rv;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) {
      rv += "\n";
      if (blank || !lines[i].empty()) rv += indention;
    }
    rv += lines[i];
  }
  if (first) rv = indention + rv;
  return SameKind(v, std::move(rv));
}

StatusOr<Value> Wordcount(Interpreter& in, const Value& v, CallArgs& args) {
  RETURN_IF_ERROR(BindArgs("wordcount", args, {}).status());
  ASSIGN_OR_RETURN(std::string s, SoftStr(in, v));
  int64_t n = 0;
  bool in_word = false;
  size_t pos = 0;
  while (pos < s.size()) {
    const bool w = py::IsWordChar(py::NextCodepoint(s, &pos));
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value::Int(n);
}

StatusOr<Value> Truncate(Interpreter& in, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(auto a, BindArgs("truncate", args, {"length", "killwords", "end", "leeway"}));
  int64_t length = 255, leeway = 5;
  if (a[0]) {
    ASSIGN_OR_RETURN(length, IntArg("truncate", "length", *a[0]));
  }
  if (a[3] && !a[3]->is_none()) {
    ASSIGN_OR_RETURN(leeway, IntArg("truncate", "leeway", *a[3]));
  }
  const bool killwords = a[1] && Truthy(*a[1]);
  const std::string end = a[2] ? ToStr(*a[2]) : "...";
  const auto end_len = static_cast<int64_t>(py::CountCodepoints(end));
  if (length < end_len) return InvalidArgument(StrCat("expected length >= ", end_len, ", got ", length));
  if (leeway < 0) return InvalidArgument(StrCat("expected leeway >= 0, got ", leeway));
  ASSIGN_OR_RETURN(std::string s, SoftStr(in, v));
  auto cps = py::Decode(s);
  if (static_cast<int64_t>(cps.size()) <= length + leeway) return Value::Str(s);
  cps.resize(static_cast<size_t>(length - end_len));
  std::string head = py::Encode(cps);
  if (!killwords) {
    const size_t sp = head.rfind(' ');
    if (sp != std::string::npos) head.resize(sp);
  }
  return Value::Str(head + end);
}

StatusOr<Value> Striptags(Interpreter& in, const Value& v, CallArgs& args) {
  RETURN_IF_ERROR(BindArgs("striptags", args, {}).status());
  ASSIGN_OR_RETURN(std::string s, SoftStr(in, v));
  for (const auto& [open, close] : {std::pair<std::string_view, std::string_view>{"<!--", "-->"}, {"<", ">"}}) {
    while (true) {
      const size_t start = s.find(open);
      if (start == std::string::npos) break;
      const size_t end = s.find(close, start);
      if (end == std::string::npos) break;
      s.erase(start, end + close.size() - start);
    }
  }
  std::string collapsed;
  for (const std::string& w : py::Split(s, std::nullopt, -1)) {
    if (!collapsed.empty()) collapsed += ' ';
    collapsed += w;
  }
  // HTML unescape of the common entities (numeric and the XML five plus nbsp).
  std::string out;
  for (size_t i = 0; i < collapsed.size(); ++i) {
    if (collapsed[i] != '&') {
      out.push_back(collapsed[i]);
      continue;
    }
    const size_t semi = collapsed.find(';', i);
    const std::string ent = semi == std::string::npos ? "" : collapsed.substr(i + 1, semi - i - 1);
    static const std::pair<const char*, const char*> kNamed[] = {
        {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}, {"nbsp", "\xC2\xA0"}};
    bool done = false;
    for (const auto& [name, text] : kNamed) {
      if (ent == name) {
        out += text;
        done = true;
      }
    }
    if (!done && ent.size() > 1 && ent[0] == '#') {
      const bool hex = ent[1] == 'x' || ent[1] == 'X';
      bool overflow = false;
      auto cp = py::ParseInt(ent.substr(hex ? 2 : 1), hex ? 16 : 10, &overflow);
      if (cp && *cp > 0 && *cp <= 0x10FFFF && !(*cp >= 0xD800 && *cp <= 0xDFFF)) {
        py::AppendUtf8(static_cast<char32_t>(*cp), &out);
        done = true;
      }
    }
    if (done) {
      i = semi;
    } else {
      out.push_back('&');
    }
  }
  return Value::Str(std::move(out));
}

StatusOr<Value> Format(Interpreter& in, const Value& v, CallArgs& args) {
  if (!args.pos.empty() && !args.kw.empty()) {
    return InvalidArgument("can't handle positional and keyword arguments at the same time");
  }
  ASSIGN_OR_RETURN(std::string fmt, SoftStr(in, v));
  Value operand;
  if (!args.kw.empty()) {
    operand = in.heap().NewDict();
    for (const auto& [k, x] : args.kw) operand.dict()->Set(Value::Str(k), x);
  } else {
    operand = in.heap().NewTuple(args.pos);
  }
  ASSIGN_OR_RETURN(std::string out, PercentFormat(in, fmt, operand, v.is_markup()));
  return SameKind(v, std::move(out));
}

// HF's tojson: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
StatusOr<Value> ToJsonFilter(Interpreter& in, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(auto a, BindArgs("tojson", args, {"ensure_ascii", "indent", "separators", "sort_keys"}));
  DumpOptions o;
  o.ensure_ascii = a[0] && Truthy(*a[0]);
  if (a[1] && !a[1]->is_none()) {
    if (a[1]->is_string()) {
      o.indent = a[1]->str();
    } else if (a[1]->is_integral()) {
      o.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(a[1]->i(), 0, 1000)), ' ');
    } else {
      return TypeError(StrCat("can't multiply sequence by non-int of type '", TypeName(*a[1]), "'"));
    }
  }
  if (a[2] && !a[2]->is_none()) {
    ASSIGN_OR_RETURN(std::vector<Value> seps, in.Iterate(*a[2]));
    if (seps.size() != 2 || !seps[0].is_string() || !seps[1].is_string()) {
      return TypeError("separators must be a pair of strings");
    }
    o.item_separator = seps[0].str();
    o.key_separator = seps[1].str();
  }
  o.sort_keys = a[3] && Truthy(*a[3]);
  o.max_bytes = in.options().limits.max_output_bytes;
  ASSIGN_OR_RETURN(std::string out, DumpJson(v, o));
  RETURN_IF_ERROR(in.ChargeBytes(out.size()));
  return Value::Str(std::move(out));
}

StatusOr<Value> Attr(Interpreter& in, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(auto a, BindArgs("attr", args, {"name"}));
  if (!a[0] || !a[0]->is_string()) return TypeError("attr() requires an attribute name string");
  const std::string& name = a[0]->str();
  // Real attributes only: dict keys are not attributes (methods, namespace and loop attributes are).
  if (v.is_dict() && FindMethod(v, name) == MethodSafety::kNone) {
    return Value::Undefined(StrCat("'dict object' has no attribute '", name, "'"));
  }
  return in.GetAttr(v, name);
}

}  // namespace
}  // namespace filters

FilterFn FindFilter(std::string_view name) {
  using namespace filters;  // NOLINT: the registry names every filter of this file and filters_seq
  static const std::unordered_map<std::string_view, FilterFn> kFilters = {
      {"abs", Abs},
      {"attr", Attr},
      {"batch", Batch},
      {"capitalize", Capitalize},
      {"center", Center},
      {"count", Length},
      {"d", Default},
      {"default", Default},
      {"dictsort", Dictsort},
      {"e", Escape},
      {"escape", Escape},
      {"first", First},
      {"float", Float},
      {"forceescape", ForceEscape},
      {"format", Format},
      {"indent", Indent},
      {"int", Int},
      {"items", Items},
      {"join", Join},
      {"last", Last},
      {"length", Length},
      {"list", List},
      {"lower", StrMap<py::Lower>},
      {"map", Map},
      {"max", Max},
      {"min", Min},
      {"reject", Reject},
      {"rejectattr", Rejectattr},
      {"replace", Replace},
      {"reverse", Reverse},
      {"round", Round},
      {"safe", Safe},
      {"select", Select},
      {"selectattr", Selectattr},
      {"slice", SliceFilter},
      {"sort", Sort},
      {"string", String},
      {"striptags", Striptags},
      {"sum", Sum},
      {"title", TitleFilter},
      {"tojson", ToJsonFilter},
      {"trim", Trim},
      {"truncate", Truncate},
      {"unique", Unique},
      {"upper", StrMap<py::Upper>},
      {"wordcount", Wordcount},
  };
  auto it = kFilters.find(name);
  return it == kFilters.end() ? nullptr : it->second;
}

}  // namespace pagellm::jinja
