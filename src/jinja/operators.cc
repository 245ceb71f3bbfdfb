// Python operator semantics for Jinja values: arithmetic, comparison, membership, slicing and
// printf-style str % args. Integers are 64-bit; overflow is an error, never wraps.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "src/jinja/builtins.h"
#include "src/jinja/pystr.h"

namespace pagellm::jinja {

namespace {

const char* OpSymbol(BinOp op) {
  switch (op) {
    case BinOp::kAdd: return "+";
    case BinOp::kSub: return "-";
    case BinOp::kMul: return "*";
    case BinOp::kDiv: return "/";
    case BinOp::kFloorDiv: return "//";
    case BinOp::kMod: return "%";
    case BinOp::kPow: return "** or pow()";
  }
  return "?";
}

Status Unsupported(BinOp op, const Value& a, const Value& b) {
  return TypeError(StrCat("unsupported operand type(s) for ", OpSymbol(op), ": '", TypeName(a),
                          "' and '", TypeName(b), "'"));
}

Status Overflow() { return InvalidArgument("integer overflow (pagellm integers are 64-bit)"); }

// Python float // and % (sign follows the divisor).
void FloatDivMod(double x, double y, double* floordiv, double* mod) {
  double m = std::fmod(x, y);
  double div = (x - m) / y;
  if (m != 0.0) {
    if ((y < 0) != (m < 0)) {
      m += y;
      div -= 1.0;
    }
  } else {
    m = std::copysign(0.0, y);
  }
  double fd;
  if (div != 0.0) {
    fd = std::floor(div);
    if (div - fd > 0.5) fd += 1.0;
  } else {
    fd = std::copysign(0.0, x / y);
  }
  *floordiv = fd;
  *mod = m;
}

StatusOr<Value> Repeat(Interpreter& in, const Value& seq, int64_t n) {
  if (n < 0) n = 0;
  if (seq.is_string()) {
    const size_t len = seq.str().size();
    if (len != 0 && static_cast<uint64_t>(n) > in.options().limits.max_output_bytes / len) {
      return in.ChargeBytes(in.options().limits.max_output_bytes + 1);
    }
    RETURN_IF_ERROR(in.ChargeBytes(len * static_cast<size_t>(n)));
    std::string out;
    out.reserve(len * static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out += seq.str();
    return seq.is_markup() ? Value::Markup(std::move(out)) : Value::Str(std::move(out));
  }
  const auto& items = seq.list()->items;
  if (!items.empty() && static_cast<uint64_t>(n) > in.options().limits.max_steps / items.size()) {
    return in.Charge(in.options().limits.max_steps + 1);
  }
  RETURN_IF_ERROR(in.Charge(items.size() * static_cast<size_t>(n)));
  std::vector<Value> out;
  out.reserve(items.size() * static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
  return seq.is_list() ? in.heap().NewList(std::move(out)) : in.heap().NewTuple(std::move(out));
}

template <typename T>
std::string CFormat(const std::string& spec, T value) {
  const int n = std::snprintf(nullptr, 0, spec.c_str(), value);
  if (n <= 0) return "";
  std::string out(static_cast<size_t>(n) + 1, '\0');
  std::snprintf(out.data(), out.size(), spec.c_str(), value);
  out.resize(static_cast<size_t>(n));
  return out;
}

StatusOr<Value> IntPow(int64_t base, int64_t exp) {
  int64_t result = 1;
  while (exp > 0) {
    if (exp & 1) {
      if (__builtin_mul_overflow(result, base, &result)) return Overflow();
    }
    exp >>= 1;
    if (exp > 0 && __builtin_mul_overflow(base, base, &base)) return Overflow();
  }
  return Value::Int(result);
}

}  // namespace

StatusOr<Value> BinaryOp(Interpreter& in, BinOp op, const Value& a, const Value& b) {
  if (op == BinOp::kMod && a.is_string()) {  // str.__mod__ accepts any right operand
    ASSIGN_OR_RETURN(std::string s, PercentFormat(in, a.str(), b, a.is_markup()));
    return a.is_markup() ? Value::Markup(std::move(s)) : Value::Str(std::move(s));
  }
  if (a.is_undefined()) return UndefinedError(a);
  if (b.is_undefined()) return UndefinedError(b);
  if (a.is_number() && b.is_number()) {
    const bool ints = a.is_integral() && b.is_integral();
    const int64_t x = ints ? a.i() : 0, y = ints ? b.i() : 0;
    const double fx = a.d(), fy = b.d();
    int64_t r;
    switch (op) {
      case BinOp::kAdd:
        if (!ints) return Value::Float(fx + fy);
        if (__builtin_add_overflow(x, y, &r)) return Overflow();
        return Value::Int(r);
      case BinOp::kSub:
        if (!ints) return Value::Float(fx - fy);
        if (__builtin_sub_overflow(x, y, &r)) return Overflow();
        return Value::Int(r);
      case BinOp::kMul:
        if (!ints) return Value::Float(fx * fy);
        if (__builtin_mul_overflow(x, y, &r)) return Overflow();
        return Value::Int(r);
      case BinOp::kDiv:
        if (fy == 0.0) return InvalidArgument(ints ? "division by zero" : "float division by zero");
        return Value::Float(fx / fy);
      case BinOp::kFloorDiv:
      case BinOp::kMod: {
        if (ints) {
          if (y == 0) return InvalidArgument("integer division or modulo by zero");
          if (x == INT64_MIN && y == -1) {
            if (op == BinOp::kMod) return Value::Int(0);
            return Overflow();
          }
          int64_t q = x / y, m = x % y;
          if (m != 0 && ((m < 0) != (y < 0))) {
            q -= 1;
            m += y;
          }
          return Value::Int(op == BinOp::kFloorDiv ? q : m);
        }
        if (fy == 0.0) {
          return InvalidArgument(op == BinOp::kMod ? "float modulo" : "float floor division by zero");
        }
        double fd, fm;
        FloatDivMod(fx, fy, &fd, &fm);
        return Value::Float(op == BinOp::kFloorDiv ? fd : fm);
      }
      case BinOp::kPow:
        if (ints && y >= 0) return IntPow(x, y);
        if (fx == 0.0 && fy < 0) return InvalidArgument("0.0 cannot be raised to a negative power");
        if (fx < 0 && fy != std::floor(fy)) {
          return InvalidArgument("complex results are not supported");
        }
        return Value::Float(std::pow(fx, fy));
    }
  }
  switch (op) {
    case BinOp::kAdd:
      if (a.is_string() && b.is_string()) {
        RETURN_IF_ERROR(in.ChargeBytes(a.str().size() + b.str().size()));
        if (a.is_markup() || b.is_markup()) {  // Markup + str escapes the plain side
          return Value::Markup((a.is_markup() ? a.str() : py::HtmlEscape(a.str())) +
                               (b.is_markup() ? b.str() : py::HtmlEscape(b.str())));
        }
        return Value::Str(a.str() + b.str());
      }
      if (a.is_sequence() && b.kind() == a.kind()) {
        std::vector<Value> items = a.list()->items;
        items.insert(items.end(), b.list()->items.begin(), b.list()->items.end());
        RETURN_IF_ERROR(in.Charge(items.size()));
        return a.is_list() ? in.heap().NewList(std::move(items)) : in.heap().NewTuple(std::move(items));
      }
      if (a.is_string() || a.is_sequence()) {
        return TypeError(StrCat("can only concatenate ", TypeName(a), " (not \"", TypeName(b),
                                "\") to ", TypeName(a)));
      }
      break;
    case BinOp::kMul:
      if ((a.is_string() || a.is_sequence()) && b.is_integral()) return Repeat(in, a, b.i());
      if ((b.is_string() || b.is_sequence()) && a.is_integral()) return Repeat(in, b, a.i());
      if (a.is_string() || a.is_sequence() || b.is_string() || b.is_sequence()) {
        const Value& other = (a.is_string() || a.is_sequence()) ? b : a;
        return TypeError(StrCat("can't multiply sequence by non-int of type '", TypeName(other), "'"));
      }
      break;
    default: break;
  }
  return Unsupported(op, a, b);
}

StatusOr<Value> Negate(const Value& v, bool minus) {
  if (v.is_undefined()) return UndefinedError(v);
  if (v.is_float()) return Value::Float(minus ? -v.d() : v.d());
  if (v.is_integral()) {
    if (!minus) return Value::Int(v.i());
    if (v.i() == INT64_MIN) return Overflow();
    return Value::Int(-v.i());
  }
  return TypeError(StrCat("bad operand type for unary ", minus ? "-" : "+", ": '", TypeName(v), "'"));
}

StatusOr<bool> Contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Kind::kUndefined: return false;  // Undefined iterates as empty
    case Kind::kString:
      if (item.is_undefined()) return UndefinedError(item);
      if (!item.is_string()) {
        return TypeError(StrCat("'in <string>' requires string as left operand, not ", TypeName(item)));
      }
      return container.str().find(item.str()) != std::string::npos;
    case Kind::kList:
    case Kind::kTuple:
      for (const Value& x : container.list()->items) {
        if (Equal(x, item)) return true;
      }
      return false;
    case Kind::kDict:
      if (!IsHashable(item)) return TypeError(StrCat("unhashable type: '", TypeName(item), "'"));
      return container.dict()->Find(item) != nullptr;
    default:
      return TypeError(StrCat("argument of type '", TypeName(container), "' is not iterable"));
  }
}

StatusOr<bool> CompareOp(CmpOp op, const Value& a, const Value& b) {
  switch (op) {
    case CmpOp::kEq: return Equal(a, b);
    case CmpOp::kNe: return !Equal(a, b);
    case CmpOp::kIn: return Contains(b, a);
    case CmpOp::kNotIn: {
      ASSIGN_OR_RETURN(bool in, Contains(b, a));
      return !in;
    }
    default: break;
  }
  if (a.is_undefined()) return UndefinedError(a);
  if (b.is_undefined()) return UndefinedError(b);
  const char* sym = op == CmpOp::kLt ? "<" : op == CmpOp::kLe ? "<=" : op == CmpOp::kGt ? ">" : ">=";
  // Type check in the operands' order so the error names them as Python does.
  RETURN_IF_ERROR(Less(a, b, sym).status());
  switch (op) {
    case CmpOp::kLt: return Less(a, b, sym);
    case CmpOp::kGt: return Less(b, a, sym);
    case CmpOp::kLe: {
      ASSIGN_OR_RETURN(bool lt, Less(a, b, sym));
      return lt || Equal(a, b);
    }
    default: {
      ASSIGN_OR_RETURN(bool gt, Less(b, a, sym));
      return gt || Equal(a, b);
    }
  }
}

StatusOr<Value> SliceValue(Interpreter& in, const Value& obj, std::optional<int64_t> start,
                           std::optional<int64_t> stop, std::optional<int64_t> step_opt) {
  const int64_t step = step_opt.value_or(1);
  if (step == 0) return InvalidArgument("slice step cannot be zero");
  std::vector<char32_t> cps;
  const bool ascii = obj.is_string() && py::IsAscii(obj.str());
  if (obj.is_string() && !ascii) cps = py::Decode(obj.str());
  const auto len = static_cast<int64_t>(obj.is_string() ? (ascii ? obj.str().size() : cps.size())
                                                        : obj.list()->items.size());
  const int64_t lower = step > 0 ? 0 : -1;
  const int64_t upper = step > 0 ? len : len - 1;
  auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) {
      x += len;
      if (x < lower) x = lower;
    } else if (x > upper) {
      x = upper;
    }
    return x;
  };
  const int64_t begin = adjust(start, step > 0 ? lower : upper);
  const int64_t end = adjust(stop, step > 0 ? upper : lower);
  std::vector<int64_t> idx;
  for (int64_t i = begin; step > 0 ? i < end : i > end; i += step) idx.push_back(i);
  RETURN_IF_ERROR(in.Charge(idx.size()));
  if (obj.is_string()) {
    std::string out;
    for (int64_t i : idx) {
      if (ascii) {
        out.push_back(obj.str()[static_cast<size_t>(i)]);
      } else {
        py::AppendUtf8(cps[static_cast<size_t>(i)], &out);
      }
    }
    return Value::Str(std::move(out));
  }
  std::vector<Value> items;
  items.reserve(idx.size());
  for (int64_t i : idx) items.push_back(obj.list()->items[static_cast<size_t>(i)]);
  return obj.is_list() ? in.heap().NewList(std::move(items)) : in.heap().NewTuple(std::move(items));
}

StatusOr<std::string> PercentFormat(Interpreter& in, std::string_view fmt, const Value& args,
                                    bool escape) {
  // Python treats any non-tuple, non-str argument with __getitem__ (dict, list, Undefined) as a
  // mapping: %(key)s looks it up, and unused arguments are not an error.
  std::vector<Value> values;
  const bool mapping_like = !args.is_tuple() && (args.is_dict() || args.is_list() || args.is_undefined());
  if (args.is_tuple()) {
    values = args.list()->items;
  } else {
    values.push_back(args);
  }
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out.push_back(fmt[i]);
      continue;
    }
    if (++i >= fmt.size()) return TypeError("incomplete format");
    const Value* v = nullptr;
    if (fmt[i] == '(') {
      const size_t close = fmt.find(')', i);
      if (close == std::string_view::npos) return InvalidArgument("incomplete format key");
      if (!mapping_like) return TypeError("format requires a mapping");
      if (args.is_undefined()) return UndefinedError(args);
      if (!args.is_dict()) return TypeError("list indices must be integers or slices, not str");
      v = args.dict()->FindStr(fmt.substr(i + 1, close - i - 1));
      if (v == nullptr) return InvalidArgument(StrCat("KeyError: '", fmt.substr(i + 1, close - i - 1), "'"));
      i = close + 1;
    }
    std::string spec = "%";
    while (i < fmt.size() && std::string_view("-+ #0123456789.").find(fmt[i]) != std::string_view::npos) {
      spec.push_back(fmt[i++]);
    }
    if (i >= fmt.size()) return TypeError("incomplete format");
    {
      // Width and precision are bounded so a template cannot request gigabytes of padding.
      int64_t num = 0;
      for (char c : spec) {
        num = (c >= '0' && c <= '9') ? std::min<int64_t>(num * 10 + (c - '0'), INT32_MAX) : 0;
        if (num > 100000) return InvalidArgument("format width or precision too large");
      }
    }
    const char conv = fmt[i];
    if (conv == '%') {
      out.push_back('%');
      continue;
    }
    if (v == nullptr) {
      if (next >= values.size()) return TypeError("not enough arguments for format string");
      v = &values[next++];
    }
    if (v->is_undefined() && conv != 's') return UndefinedError(*v);
    switch (conv) {
      case 's':
      case 'r':
      case 'a': {
        std::string text = conv == 's' ? ToStr(*v) : Repr(*v);
        if (escape && !(conv == 's' && v->is_markup())) text = py::HtmlEscape(text);
        spec += "s";
        if (spec == "%s") {
          out += text;
        } else {
          RETURN_IF_ERROR(in.ChargeBytes(text.size() + spec.size() * 8));
          out += CFormat(spec, text.c_str());
        }
        break;
      }
      case 'd':
      case 'i':
      case 'x':
      case 'X':
      case 'o': {
        if (!v->is_number()) return TypeError(StrCat("%", std::string(1, conv), " format: a real number is required, not ", TypeName(*v)));
        const auto n = static_cast<long long>(v->is_float() ? std::trunc(v->d()) : static_cast<double>(v->i()));
        spec += "ll";
        spec.push_back(conv == 'i' ? 'd' : conv);
        out += CFormat(spec, v->is_float() ? n : static_cast<long long>(v->i()));
        break;
      }
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G': {
        if (!v->is_number()) return TypeError(StrCat("must be real number, not ", TypeName(*v)));
        spec.push_back(conv);
        out += CFormat(spec, v->d());
        break;
      }
      default: return InvalidArgument(StrCat("unsupported format character '", std::string(1, conv), "'"));
    }
    RETURN_IF_ERROR(in.ChargeBytes(out.size()));
  }
  if (!mapping_like && next < values.size()) {
    return TypeError("not all arguments converted during string formatting");
  }
  return out;
}

}  // namespace pagellm::jinja
