// Jinja2 built-in tests (`x is defined`, `x is string`, `x is divisibleby 3`, ...) and their
// registry, with Python's isinstance semantics (bool counts as a number, not an integer).
#include <unordered_map>

#include "src/jinja/builtins.h"
#include "src/jinja/pystr.h"

namespace pagellm::jinja {

namespace {

Status NoArgs(std::string_view name, const CallArgs& args) {
  if (!args.pos.empty() || !args.kw.empty()) {
    return TypeError(StrCat("test '", name, "' takes no arguments"));
  }
  return absl::OkStatus();
}

StatusOr<Value> OneArg(std::string_view name, const CallArgs& args) {
  ASSIGN_OR_RETURN(auto a, BindArgs(name, args, {"other"}));
  if (!a[0]) return TypeError(StrCat("test '", name, "' takes exactly one argument"));
  return *a[0];
}

#define PAGELLM_JINJA_KIND_TEST(Name, expr)                                 \
  StatusOr<bool> Name(Interpreter&, const Value& v, CallArgs& args) {      \
    RETURN_IF_ERROR(NoArgs(#Name, args));                                  \
    return (expr);                                                         \
  }
PAGELLM_JINJA_KIND_TEST(Defined, !v.is_undefined())
PAGELLM_JINJA_KIND_TEST(Undefined, v.is_undefined())
PAGELLM_JINJA_KIND_TEST(None, v.is_none())
PAGELLM_JINJA_KIND_TEST(Boolean, v.is_bool())
PAGELLM_JINJA_KIND_TEST(True, v.is_bool() && v.b())
PAGELLM_JINJA_KIND_TEST(False, v.is_bool() && !v.b())
PAGELLM_JINJA_KIND_TEST(Integer, v.is_int())
PAGELLM_JINJA_KIND_TEST(FloatTest, v.is_float())
PAGELLM_JINJA_KIND_TEST(Number, v.is_number())
PAGELLM_JINJA_KIND_TEST(String, v.is_string())
PAGELLM_JINJA_KIND_TEST(Mapping, v.is_dict())
// Python: len() and __getitem__ (Undefined has both); iter(); callable() (Undefined has __call__).
PAGELLM_JINJA_KIND_TEST(Sequence, v.is_string() || v.is_sequence() || v.is_dict() || v.is_undefined())
PAGELLM_JINJA_KIND_TEST(Iterable, v.is_string() || v.is_sequence() || v.is_dict() || v.is_undefined() || v.is_loop())
PAGELLM_JINJA_KIND_TEST(Callable, v.is_callable() || v.is_undefined() || v.is_loop())
PAGELLM_JINJA_KIND_TEST(Escaped, false)  // no Markup values: |safe returns plain strings
#undef PAGELLM_JINJA_KIND_TEST

StatusOr<bool> Case(Interpreter&, const Value& v, CallArgs& args, bool lower) {
  RETURN_IF_ERROR(NoArgs(lower ? "lower" : "upper", args));
  const std::string s = ToStr(v);
  bool cased = false;
  size_t pos = 0;
  while (pos < s.size()) {
    const char32_t c = py::NextCodepoint(s, &pos);
    if (lower ? py::IsUpper(c) : py::IsLower(c)) return false;
    cased = cased || py::IsCased(c);
  }
  return cased;
}
StatusOr<bool> Lower(Interpreter& in, const Value& v, CallArgs& args) { return Case(in, v, args, true); }
StatusOr<bool> Upper(Interpreter& in, const Value& v, CallArgs& args) { return Case(in, v, args, false); }

StatusOr<bool> Parity(Interpreter& in, const Value& v, CallArgs& args, int64_t want) {
  RETURN_IF_ERROR(NoArgs(want ? "odd" : "even", args));
  ASSIGN_OR_RETURN(Value m, BinaryOp(in, BinOp::kMod, v, Value::Int(2)));
  return Equal(m, Value::Int(want));
}
StatusOr<bool> Odd(Interpreter& in, const Value& v, CallArgs& args) { return Parity(in, v, args, 1); }
StatusOr<bool> Even(Interpreter& in, const Value& v, CallArgs& args) { return Parity(in, v, args, 0); }

StatusOr<bool> Divisibleby(Interpreter& in, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(Value num, OneArg("divisibleby", args));
  ASSIGN_OR_RETURN(Value m, BinaryOp(in, BinOp::kMod, v, num));
  return Equal(m, Value::Int(0));
}

template <CmpOp kOp>
StatusOr<bool> Cmp(Interpreter&, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(Value other, OneArg("compare", args));
  return CompareOp(kOp, v, other);
}

StatusOr<bool> In(Interpreter&, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(Value seq, OneArg("in", args));
  return Contains(seq, v);
}

// Python `is`: identity for containers, value for None/bool/small ints (CPython caches them).
StatusOr<bool> Sameas(Interpreter&, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(Value other, OneArg("sameas", args));
  if (v.kind() != other.kind()) return false;
  switch (v.kind()) {
    case Kind::kNone:
    case Kind::kUndefined: return v.kind() == Kind::kNone;
    case Kind::kBool: return v.b() == other.b();
    case Kind::kInt: return v.i() == other.i() && v.i() >= -5 && v.i() <= 256;
    case Kind::kString: return v.shared_str() == other.shared_str();
    case Kind::kFloat: return false;
    default: return v.identity() == other.identity();
  }
}

StatusOr<bool> FilterExists(Interpreter&, const Value& v, CallArgs& args) {
  RETURN_IF_ERROR(NoArgs("filter", args));
  return v.is_string() && FindFilter(v.str()) != nullptr;
}

StatusOr<bool> TestExists(Interpreter&, const Value& v, CallArgs& args) {
  RETURN_IF_ERROR(NoArgs("test", args));
  return v.is_string() && FindTest(v.str()) != nullptr;
}

}  // namespace

TestFn FindTest(std::string_view name) {
  static const std::unordered_map<std::string_view, TestFn> kTests = {
      {"defined", Defined},
      {"undefined", Undefined},
      {"none", None},
      {"boolean", Boolean},
      {"true", True},
      {"false", False},
      {"integer", Integer},
      {"float", FloatTest},
      {"number", Number},
      {"string", String},
      {"mapping", Mapping},
      {"sequence", Sequence},
      {"iterable", Iterable},
      {"callable", Callable},
      {"escaped", Escaped},
      {"lower", Lower},
      {"upper", Upper},
      {"odd", Odd},
      {"even", Even},
      {"divisibleby", Divisibleby},
      {"in", In},
      {"sameas", Sameas},
      {"filter", FilterExists},
      {"test", TestExists},
      {"==", Cmp<CmpOp::kEq>},
      {"eq", Cmp<CmpOp::kEq>},
      {"equalto", Cmp<CmpOp::kEq>},
      {"!=", Cmp<CmpOp::kNe>},
      {"ne", Cmp<CmpOp::kNe>},
      {">", Cmp<CmpOp::kGt>},
      {"gt", Cmp<CmpOp::kGt>},
      {"greaterthan", Cmp<CmpOp::kGt>},
      {">=", Cmp<CmpOp::kGe>},
      {"ge", Cmp<CmpOp::kGe>},
      {"<", Cmp<CmpOp::kLt>},
      {"lt", Cmp<CmpOp::kLt>},
      {"lessthan", Cmp<CmpOp::kLt>},
      {"<=", Cmp<CmpOp::kLe>},
      {"le", Cmp<CmpOp::kLe>},
  };
  auto it = kTests.find(name);
  return it == kTests.end() ? nullptr : it->second;
}

}  // namespace pagellm::jinja
