// Jinja evaluator, expressions: names, literals, operators, calls, filters and tests, and
// Jinja2's getattr / getitem / iteration semantics (with the immutable sandbox).
#include <cstring>

#include "src/jinja/builtins.h"
#include "src/jinja/interpreter.h"
#include "src/jinja/pystr.h"

namespace pagellm::jinja {

namespace {
std::string ObjectTypeRepr(const Value& v) {
  if (v.is_none()) return "None";
  return StrCat(TypeName(v), " object");
}

Value NoAttribute(const Value& obj, std::string_view name) {
  if (obj.is_none()) return Value::Undefined(StrCat("'None' has no attribute '", name, "'"));
  return Value::Undefined(StrCat("'", ObjectTypeRepr(obj), "' has no attribute '", name, "'"));
}

Value NoElement(const Value& obj, const Value& key) {
  return Value::Undefined(StrCat(ObjectTypeRepr(obj), " has no element ", Repr(key)));
}

Value UnsafeMethod(const Value& obj, std::string_view name) {
  return Value::Undefined(
      StrCat("access to attribute '", name, "' of '", TypeName(obj), "' object is unsafe."), true);
}
// Whether jinja2's optimizer would fold `e` to a constant at compile time (Expr.as_const
// succeeding, errors aside): literals and operators over literals, filters other than the
// context-dependent map/select/reject family, tests, and constant subscripts. Names and calls
// are never constant.
}  // namespace

// ---------------------------------------------------------------- access

StatusOr<Value> Interpreter::GetAttr(const Value& obj, std::string_view name) {
  switch (obj.kind()) {
    case Kind::kUndefined: return UndefinedError(obj);
    case Kind::kDict: {
      const MethodSafety m = FindMethod(obj, name);
      if (m == MethodSafety::kNone) {
        const Value* v = obj.dict()->FindStr(name);
        return v != nullptr ? *v : NoAttribute(obj, name);
      }
      if (m == MethodSafety::kMutating && options_.immutable_sandbox) return UnsafeMethod(obj, name);
      break;
    }
    case Kind::kNamespace: {
      const Value* v = obj.ns()->attrs.FindStr(name);
      return v != nullptr ? *v : Value::Undefined(StrCat("'Namespace' object has no attribute '", name, "'"));
    }
    case Kind::kLoop: {
      Value v = LoopAttribute(*this, obj, name);
      if (!v.is_undefined() || FindMethod(obj, name) == MethodSafety::kNone) return v;
      break;
    }
    case Kind::kString:
    case Kind::kList:
    case Kind::kTuple: {
      const MethodSafety m = FindMethod(obj, name);
      if (m == MethodSafety::kNone) return NoAttribute(obj, name);
      if (m == MethodSafety::kMutating && options_.immutable_sandbox) return UnsafeMethod(obj, name);
      break;
    }
    default: return NoAttribute(obj, name);
  }
  // A bound method used as a value (called later, or printed).
  std::string method(name);
  return heap_->NewCallable(StrCat("method ", name, " of ", TypeName(obj), " object"),
                            [obj, method](Interpreter& in, CallArgs& args) {
                              return CallMethod(in, obj, method, args);
                            });
}

StatusOr<Value> Interpreter::GetItem(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Kind::kUndefined: return UndefinedError(obj);
    case Kind::kDict:
      if (IsHashable(key)) {
        if (const Value* v = obj.dict()->Find(key)) return *v;
      }
      break;
    case Kind::kList:
    case Kind::kTuple:
    case Kind::kString:
      if (key.is_integral()) {
        int64_t i = key.i();
        if (obj.is_string()) {
          const std::string& s = obj.str();
          if (py::IsAscii(s)) {
            const auto n = static_cast<int64_t>(s.size());
            if (i < 0) i += n;
            if (i >= 0 && i < n) return Value::Str(std::string(1, s[static_cast<size_t>(i)]));
          } else {
            const auto cps = py::Decode(s);
            const auto n = static_cast<int64_t>(cps.size());
            if (i < 0) i += n;
            if (i >= 0 && i < n) {
              std::string out;
              py::AppendUtf8(cps[static_cast<size_t>(i)], &out);
              return Value::Str(std::move(out));
            }
          }
        } else {
          const auto& items = obj.list()->items;
          const auto n = static_cast<int64_t>(items.size());
          if (i < 0) i += n;
          if (i >= 0 && i < n) return items[static_cast<size_t>(i)];
        }
        return NoElement(obj, key);
      }
      break;
    default: break;
  }
  if (key.is_string()) return GetAttr(obj, key.str());
  return NoElement(obj, key);
}

StatusOr<std::vector<Value>> Interpreter::Iterate(const Value& v) {
  std::vector<Value> out;
  switch (v.kind()) {
    case Kind::kUndefined: return out;
    case Kind::kList:
    case Kind::kTuple: out = v.list()->items; break;
    case Kind::kDict:
      out.reserve(v.dict()->size());
      for (const auto& [k, x] : v.dict()->entries) out.push_back(k);
      break;
    case Kind::kString: {
      const std::string& s = v.str();
      out.reserve(s.size());
      size_t pos = 0;
      while (pos < s.size()) {
        const size_t start = pos;
        py::NextCodepoint(s, &pos);
        out.push_back(Value::Str(s.substr(start, pos - start)));
      }
      break;
    }
    default: return TypeError(StrCat("'", TypeName(v), "' object is not iterable"));
  }
  RETURN_IF_ERROR(Charge(out.size()));
  return out;
}

StatusOr<Value> Interpreter::CallValue(const Value& fn, CallArgs& args) {
  if (fn.is_callable()) return fn.callable()->fn(*this, args);
  if (fn.is_undefined()) return UndefinedError(fn);
  if (fn.is_loop() && fn.loop()->recurse != nullptr) return fn.loop()->recurse->fn(*this, args);
  return TypeError(StrCat("'", TypeName(fn), "' object is not callable"));
}

StatusOr<Value> Interpreter::ApplyFilter(std::string_view name, const Value& v, CallArgs& args) {
  const FilterFn fn = FindFilter(name);
  if (fn == nullptr) return InvalidArgument(StrCat("No filter named '", name, "'."));
  return fn(*this, v, args);
}

StatusOr<bool> Interpreter::ApplyTest(std::string_view name, const Value& v, CallArgs& args) {
  const TestFn fn = FindTest(name);
  if (fn == nullptr) return InvalidArgument(StrCat("No test named '", name, "'."));
  return fn(*this, v, args);
}

// ---------------------------------------------------------------- expressions

StatusOr<Value> Interpreter::Eval(const Expr& e, Scope* scope) {
  // jinja2's optimizer replaces constant subexpressions by their compile-time value when that
  // value has a safe repr; otherwise (or on any error) they are evaluated at run time.
  if (e.maybe_const && !folding_ && e.kind != ExprKind::kConst) {
    auto folded = Fold(e, scope);
    if (folded.ok()) {
      if (HasSafeRepr(*folded)) return folded;
    } else if (folded.status().code() == absl::StatusCode::kResourceExhausted) {
      return folded;
    }
  }
  auto r = EvalImpl(e, scope);
  if (!r.ok()) return Annotate(r.status(), e.line);
  return r;
}

StatusOr<Value> Interpreter::Fold(const Expr& e, Scope* scope) {
  const bool saved_annotated = annotated_;
  folding_ = true;
  auto r = EvalImpl(e, scope);
  folding_ = false;
  annotated_ = saved_annotated;
  return r;
}

Status Interpreter::EvalArgs(const ArgsExpr& a, Scope* scope, CallArgs* out) {
  for (const ExprPtr& p : a.pos) {
    ASSIGN_OR_RETURN(Value v, Eval(*p, scope));
    out->pos.push_back(std::move(v));
  }
  if (a.star) {
    ASSIGN_OR_RETURN(Value v, Eval(*a.star, scope));
    ASSIGN_OR_RETURN(std::vector<Value> extra, Iterate(v));
    for (Value& x : extra) out->pos.push_back(std::move(x));
  }
  for (const auto& [k, p] : a.kw) {
    ASSIGN_OR_RETURN(Value v, Eval(*p, scope));
    out->kw.emplace_back(k, std::move(v));
  }
  if (a.star_star) {
    ASSIGN_OR_RETURN(Value v, Eval(*a.star_star, scope));
    if (!v.is_dict()) return TypeError("argument after ** must be a mapping");
    for (const auto& [k, x] : v.dict()->entries) {
      if (!k.is_string()) return TypeError("keywords must be strings");
      out->kw.emplace_back(k.str(), x);
    }
  }
  return absl::OkStatus();
}

StatusOr<Value> Interpreter::EvalCall(const CallExpr& c, Scope* scope, const Value* caller) {
  CallArgs args;
  if (c.callee->kind == ExprKind::kGetattr) {
    // obj.method(...): call str / list / dict / loop methods without materializing them.
    const auto& g = static_cast<const GetattrExpr&>(*c.callee);
    ASSIGN_OR_RETURN(Value obj, Eval(*g.obj, scope));
    // Python's getattr finds methods before dict keys, so d.get(...) is always the method.
    const MethodSafety m = FindMethod(obj, g.attr);
    if (m != MethodSafety::kNone) {
      if (m == MethodSafety::kMutating && options_.immutable_sandbox) {
        return InvalidArgument(UnsafeMethod(obj, g.attr).UndefinedMessage());
      }
      RETURN_IF_ERROR(EvalArgs(c.args, scope, &args));
      if (caller) args.kw.emplace_back("caller", *caller);
      return CallMethod(*this, obj, g.attr, args);
    }
    ASSIGN_OR_RETURN(Value fn, GetAttr(obj, g.attr));
    RETURN_IF_ERROR(EvalArgs(c.args, scope, &args));
    if (caller) args.kw.emplace_back("caller", *caller);
    return CallValue(fn, args);
  }
  ASSIGN_OR_RETURN(Value fn, Eval(*c.callee, scope));
  RETURN_IF_ERROR(EvalArgs(c.args, scope, &args));
  if (caller) args.kw.emplace_back("caller", *caller);
  return CallValue(fn, args);
}

StatusOr<Value> Interpreter::EvalGetitem(const GetitemExpr& g, Scope* scope) {
  ASSIGN_OR_RETURN(Value obj, Eval(*g.obj, scope));
  if (g.key->kind == ExprKind::kSlice) {
    const auto& sl = static_cast<const SliceExpr&>(*g.key);
    std::optional<int64_t> bounds[3];
    const ExprPtr* parts[3] = {&sl.start, &sl.stop, &sl.step};
    for (int i = 0; i < 3; ++i) {
      if (!*parts[i]) continue;
      ASSIGN_OR_RETURN(Value b, Eval(**parts[i], scope));
      if (b.is_none()) continue;
      if (b.is_undefined()) return UndefinedError(b);
      if (!b.is_integral()) {
        return TypeError("slice indices must be integers or None or have an __index__ method");
      }
      bounds[i] = b.i();
    }
    // Jinja2 compiles slices to plain Python subscription (no getitem fallback to undefined),
    // except in a constant {{ }} expression, which it evaluates at compile time through
    // environment.getitem (see IsConstExpr).
    if (obj.is_undefined()) return UndefinedError(obj);
    if (!obj.is_sequence() && !obj.is_string()) {
      if (folding_) return Value::Undefined(StrCat(ObjectTypeRepr(obj), " has no element slice"));
      if (obj.is_dict()) return TypeError("unhashable type: 'slice'");
      return TypeError(StrCat("'", TypeName(obj), "' object is not subscriptable"));
    }
    return SliceValue(*this, obj, bounds[0], bounds[1], bounds[2]);
  }
  ASSIGN_OR_RETURN(Value key, Eval(*g.key, scope));
  return GetItem(obj, key);
}

StatusOr<Value> Interpreter::EvalFilter(const FilterExpr& f, Scope* scope) {
  Value operand;
  if (f.operand) {
    ASSIGN_OR_RETURN(operand, Eval(*f.operand, scope));
  } else if (filter_input_ != nullptr) {
    operand = *filter_input_;
  }
  if (f.fn == nullptr) return InvalidArgument(StrCat("No filter named '", f.name, "'."));
  CallArgs args;
  RETURN_IF_ERROR(EvalArgs(f.args, scope, &args));
  return f.fn(*this, operand, args);
}

StatusOr<Value> Interpreter::EvalCompare(const CompareExpr& c, Scope* scope) {
  ASSIGN_OR_RETURN(Value left, Eval(*c.first, scope));
  for (const auto& [op, expr] : c.rest) {
    ASSIGN_OR_RETURN(Value right, Eval(*expr, scope));
    ASSIGN_OR_RETURN(bool ok, CompareOp(op, left, right));
    if (!ok) return Value::Bool(false);
    left = std::move(right);
  }
  return Value::Bool(true);
}

StatusOr<Value> Interpreter::EvalImpl(const Expr& e, Scope* scope) {
  ++eval_depth_;
  struct Exit {
    int* d;
    ~Exit() { --*d; }
  } exit{&eval_depth_};
  RETURN_IF_ERROR(CheckDepth());
  RETURN_IF_ERROR(Charge(1));
  if (folding_ && !e.maybe_const) return absl::AbortedError("not a constant expression");
  switch (e.kind) {
    case ExprKind::kConst: return static_cast<const ConstExpr&>(e).value;
    case ExprKind::kName: {
      const auto& n = static_cast<const NameExpr&>(e);
      if (const Value* v = scope->Lookup(n.name)) return *v;
      return Value::Undefined(StrCat("'", n.name, "' is undefined"));
    }
    case ExprKind::kList:
    case ExprKind::kTuple: {
      const auto& s = static_cast<const SeqExpr&>(e);
      std::vector<Value> items;
      items.reserve(s.items.size());
      for (const ExprPtr& x : s.items) {
        ASSIGN_OR_RETURN(Value v, Eval(*x, scope));
        items.push_back(std::move(v));
      }
      return e.kind == ExprKind::kList ? heap_->NewList(std::move(items))
                                       : heap_->NewTuple(std::move(items));
    }
    case ExprKind::kDict: {
      Value d = heap_->NewDict();
      for (const auto& [k, v] : static_cast<const DictExpr&>(e).items) {
        ASSIGN_OR_RETURN(Value key, Eval(*k, scope));
        ASSIGN_OR_RETURN(Value value, Eval(*v, scope));
        if (!IsHashable(key)) return TypeError(StrCat("unhashable type: '", TypeName(key), "'"));
        d.dict()->Set(key, std::move(value));
      }
      heap_->NoteDict(*d.dict());
      return d;
    }
    case ExprKind::kGetattr: {
      const auto& g = static_cast<const GetattrExpr&>(e);
      ASSIGN_OR_RETURN(Value obj, Eval(*g.obj, scope));
      return GetAttr(obj, g.attr);
    }
    case ExprKind::kGetitem: return EvalGetitem(static_cast<const GetitemExpr&>(e), scope);
    case ExprKind::kSlice: return TypeError("a slice is only valid inside []");
    case ExprKind::kCall: return EvalCall(static_cast<const CallExpr&>(e), scope, nullptr);
    case ExprKind::kFilter: return EvalFilter(static_cast<const FilterExpr&>(e), scope);
    case ExprKind::kTest: {
      const auto& t = static_cast<const TestExpr&>(e);
      ASSIGN_OR_RETURN(Value operand, Eval(*t.operand, scope));
      if (t.fn == nullptr) return InvalidArgument(StrCat("No test named '", t.name, "'."));
      CallArgs args;
      RETURN_IF_ERROR(EvalArgs(t.args, scope, &args));
      ASSIGN_OR_RETURN(bool r, t.fn(*this, operand, args));
      return Value::Bool(r);
    }
    case ExprKind::kNeg:
    case ExprKind::kPos: {
      ASSIGN_OR_RETURN(Value v, Eval(*static_cast<const UnaryExpr&>(e).operand, scope));
      return Negate(v, e.kind == ExprKind::kNeg);
    }
    case ExprKind::kNot: {
      ASSIGN_OR_RETURN(Value v, Eval(*static_cast<const UnaryExpr&>(e).operand, scope));
      return Value::Bool(!Truthy(v));
    }
    case ExprKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      ASSIGN_OR_RETURN(Value l, Eval(*b.left, scope));
      ASSIGN_OR_RETURN(Value r, Eval(*b.right, scope));
      return BinaryOp(*this, b.op, l, r);
    }
    case ExprKind::kAnd:
    case ExprKind::kOr: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      ASSIGN_OR_RETURN(Value l, Eval(*b.left, scope));
      if (Truthy(l) == (e.kind == ExprKind::kOr)) return l;
      return Eval(*b.right, scope);
    }
    case ExprKind::kConcat: {
      std::string out;
      for (const ExprPtr& x : static_cast<const SeqExpr&>(e).items) {
        ASSIGN_OR_RETURN(Value v, Eval(*x, scope));
        AppendStr(v, &out);
        RETURN_IF_ERROR(ChargeBytes(out.size()));
      }
      return Value::Str(std::move(out));
    }
    case ExprKind::kCompare: return EvalCompare(static_cast<const CompareExpr&>(e), scope);
    case ExprKind::kCond: {
      const auto& c = static_cast<const CondExpr&>(e);
      ASSIGN_OR_RETURN(Value t, Eval(*c.test, scope));
      if (Truthy(t)) return Eval(*c.then, scope);
      if (c.otherwise) return Eval(*c.otherwise, scope);
      return Value::Undefined(StrCat("the inline if-expression on line ", e.line,
                                     " evaluated to false and no else section was defined."));
    }
  }
  return Internal("unknown expression kind");
}

}  // namespace pagellm::jinja
