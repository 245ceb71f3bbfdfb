// Jinja evaluator: statements (output, if, for, set, macro, call, filter, with) and the
// expression dispatch; operators, access and builtins live in their own files.
#include "src/jinja/interpreter.h"

#include "src/jinja/builtins.h"
#include "src/jinja/stack.h"

namespace pagellm::jinja {

namespace {
// Counts one level of C++ recursion; Enter() fails past the limit.
class DepthGuard {
 public:
  explicit DepthGuard(int* depth) : depth_(depth) { ++*depth_; }
  ~DepthGuard() { --*depth_; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;

 private:
  int* depth_;
};

Status ResourceError(std::string_view msg) { return absl::ResourceExhaustedError(ToAbsl(msg)); }
}  // namespace

Status UndefinedError(const Value& undefined) {
  return InvalidArgument(undefined.UndefinedMessage());
}

// ---------------------------------------------------------------- Scope

const Value* Scope::Lookup(std::string_view name) const {
  for (const Scope* s = this; s != nullptr; s = s->parent) {
    for (const auto& [k, v] : s->vars) {
      if (k == name) return &v;
    }
  }
  return nullptr;
}

void Scope::Set(std::string_view name, Value value) {
  for (auto& [k, v] : vars) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  vars.emplace_back(std::string(name), std::move(value));
}

// ---------------------------------------------------------------- driver

Interpreter::Interpreter(const RenderOptions& options, Heap* heap)
    : options_(options), heap_(heap), stack_floor_(StackFloor()) {}

Status Interpreter::CheckDepth() const {
  if (eval_depth_ > options_.limits.max_eval_depth || StackExhausted(stack_floor_)) {
    return ResourceError("template evaluation is nested too deeply");
  }
  return absl::OkStatus();
}

StatusOr<std::string> Interpreter::Render(const Body& body, Scope* scope) {
  std::string out;
  out_ = &out;
  flow_ = Flow::kNormal;
  steps_ = 0;
  annotated_ = false;
  RETURN_IF_ERROR(ExecBody(body, scope));
  return out;
}

Status Interpreter::Charge(uint64_t steps) {
  steps_ += steps;
  if (heap_->oversized()) {
    return ResourceError(StrCat("template built a value with more than ", kMaxTreeSize,
                                " nested elements"));
  }
  if (heap_->num_items() > options_.limits.max_heap_items) {
    return ResourceError(StrCat("template built more than ", options_.limits.max_heap_items,
                                " list and dict elements"));
  }
  if (steps_ > options_.limits.max_steps) {
    return ResourceError(StrCat("template evaluation exceeded the limit of ",
                                options_.limits.max_steps, " steps"));
  }
  return absl::OkStatus();
}

Status Interpreter::ChargeBytes(size_t bytes) {
  if (bytes > options_.limits.max_output_bytes) {
    return ResourceError(StrCat("template built a string of ", bytes, " bytes, over the limit of ",
                                options_.limits.max_output_bytes));
  }
  return Charge(bytes / 16);
}

Scope* Interpreter::NewScope(Scope* parent) {
  Scope* s = heap_->New<Scope>();
  s->parent = parent;
  return s;
}

Status Interpreter::Annotate(Status s, int line) {
  if (annotated_ || s.ok()) return s;
  annotated_ = true;
  return Status(s.code(), StrCat(s.message(), " (template line ", line, ")"));
}

Status Interpreter::Emit(std::string_view text) {
  if (out_->size() + text.size() > options_.limits.max_output_bytes) {
    return ResourceError(StrCat("rendered output exceeds the limit of ",
                                options_.limits.max_output_bytes, " bytes"));
  }
  RETURN_IF_ERROR(Charge(text.size() / 64));
  out_->append(text);
  return absl::OkStatus();
}

Status Interpreter::EmitValue(const Value& v) {
  if (v.is_string()) return Emit(v.str());
  std::string s;
  AppendStr(v, &s);
  return Emit(s);
}

StatusOr<std::string> Interpreter::Capture(const Body& body, Scope* scope) {
  std::string buf;
  std::string* saved = out_;
  out_ = &buf;
  Status s = ExecBody(body, NewScope(scope));
  out_ = saved;
  RETURN_IF_ERROR(s);
  return buf;
}

// ---------------------------------------------------------------- statements

Status Interpreter::ExecBody(const Body& body, Scope* scope) {
  for (const StmtPtr& s : body) {
    RETURN_IF_ERROR(Exec(*s, scope));
    if (flow_ != Flow::kNormal) break;
  }
  return absl::OkStatus();
}

Status Interpreter::BindTarget(const Target& target, const Value& value, Scope* scope) {
  switch (target.type) {
    case Target::Type::kName:
      scope->Set(target.name, value);
      return absl::OkStatus();
    case Target::Type::kNsAttr: {
      const Value* ns = scope->Lookup(target.name);
      if (ns == nullptr || !ns->is_namespace()) {
        return InvalidArgument("cannot assign attribute on non-namespace object");
      }
      ns->ns()->attrs.Set(Value::Str(target.attr), value);
      return absl::OkStatus();
    }
    case Target::Type::kTuple: {
      if (value.is_undefined()) return UndefinedError(value);
      ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(value));
      if (items.size() != target.items.size()) {
        if (items.size() > target.items.size()) {
          return InvalidArgument(StrCat("too many values to unpack (expected ", target.items.size(), ")"));
        }
        return InvalidArgument(StrCat("not enough values to unpack (expected ", target.items.size(),
                                      ", got ", items.size(), ")"));
      }
      for (size_t i = 0; i < items.size(); ++i) {
        RETURN_IF_ERROR(BindTarget(target.items[i], items[i], scope));
      }
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

Status Interpreter::Exec(const Stmt& s, Scope* scope) {
  DepthGuard guard(&eval_depth_);
  RETURN_IF_ERROR(CheckDepth());
  RETURN_IF_ERROR(Charge(1));
  switch (s.kind) {
    case StmtKind::kText: return Emit(static_cast<const TextStmt&>(s).text);
    case StmtKind::kPrint: {
      // jinja2 renders a constant {{ }} expression at compile time when it can (any value,
      // undefined included); otherwise at run time.
      const Expr& e = *static_cast<const PrintStmt&>(s).expr;
      if (e.maybe_const) {
        auto folded = Fold(e, scope);
        if (folded.ok()) return EmitValue(*folded);
        if (folded.status().code() == absl::StatusCode::kResourceExhausted) return folded.status();
      }
      ASSIGN_OR_RETURN(Value v, Eval(e, scope));
      return EmitValue(v);
    }
    case StmtKind::kIf: {
      const auto& n = static_cast<const IfStmt&>(s);
      for (const auto& [test, body] : n.branches) {
        ASSIGN_OR_RETURN(Value t, Eval(*test, scope));
        if (Truthy(t)) return ExecBody(body, scope);
      }
      return ExecBody(n.else_body, scope);
    }
    case StmtKind::kFor: return ExecFor(static_cast<const ForStmt&>(s), scope);
    case StmtKind::kSet: {
      const auto& n = static_cast<const SetStmt&>(s);
      ASSIGN_OR_RETURN(Value v, Eval(*n.value, scope));
      return Annotate(BindTarget(n.target, v, scope), s.line);
    }
    case StmtKind::kSetBlock: {
      const auto& n = static_cast<const SetBlockStmt&>(s);
      ASSIGN_OR_RETURN(std::string text, Capture(n.body, scope));
      Value v = Value::Str(std::move(text));
      if (n.filter) {
        const Value* saved = filter_input_;
        filter_input_ = &v;
        auto filtered = Eval(*n.filter, scope);
        filter_input_ = saved;
        if (!filtered.ok()) return filtered.status();
        v = std::move(*filtered);
      }
      return Annotate(BindTarget(n.target, v, scope), s.line);
    }
    case StmtKind::kMacro: {
      const auto& n = static_cast<const MacroStmt&>(s);
      scope->Set(n.def.name, MakeMacro(n.def, scope));
      return absl::OkStatus();
    }
    case StmtKind::kCallBlock: return ExecCallBlock(static_cast<const CallBlockStmt&>(s), scope);
    case StmtKind::kFilterBlock: {
      const auto& n = static_cast<const FilterBlockStmt&>(s);
      ASSIGN_OR_RETURN(std::string text, Capture(n.body, scope));
      const Value v = Value::Str(std::move(text));
      const Value* saved = filter_input_;
      filter_input_ = &v;
      auto filtered = Eval(*n.filter, scope);
      filter_input_ = saved;
      if (!filtered.ok()) return filtered.status();
      return EmitValue(*filtered);
    }
    case StmtKind::kWith: {
      const auto& n = static_cast<const WithStmt&>(s);
      Scope* inner = NewScope(scope);
      for (const auto& [target, expr] : n.assignments) {
        ASSIGN_OR_RETURN(Value v, Eval(*expr, scope));
        RETURN_IF_ERROR(Annotate(BindTarget(target, v, inner), s.line));
      }
      return ExecBody(n.body, inner);
    }
    case StmtKind::kScope: {
      ASSIGN_OR_RETURN(std::string text, Capture(static_cast<const ScopeStmt&>(s).body, scope));
      return Emit(text);
    }
    case StmtKind::kBreak: flow_ = Flow::kBreak; return absl::OkStatus();
    case StmtKind::kContinue: flow_ = Flow::kContinue; return absl::OkStatus();
  }
  return absl::OkStatus();
}

Status Interpreter::ExecFor(const ForStmt& f, Scope* scope) {
  ASSIGN_OR_RETURN(Value iterable, Eval(*f.iter, scope));
  return RunLoop(f, scope, iterable, 0);
}

Status Interpreter::RunLoop(const ForStmt& f, Scope* outer, const Value& iterable,
                            int64_t depth0) {
  ListObj* list;
  if (iterable.is_sequence() && !f.filter) {
    list = iterable.list();
    RETURN_IF_ERROR(Charge(list->items.size()));
  } else {
    auto items = Iterate(iterable);
    if (!items.ok()) return Annotate(items.status(), f.line);
    if (f.filter) {
      std::vector<Value> kept;
      Scope* probe = NewScope(outer);
      for (Value& item : *items) {
        probe->vars.clear();
        RETURN_IF_ERROR(Annotate(BindTarget(f.target, item, probe), f.line));
        ASSIGN_OR_RETURN(Value keep, Eval(*f.filter, probe));
        if (Truthy(keep)) kept.push_back(std::move(item));
      }
      *items = std::move(kept);
    }
    list = heap_->NewList(std::move(*items)).list();
  }
  if (list->items.empty()) return ExecBody(f.else_body, NewScope(outer));

  auto* loop = heap_->New<LoopObj>();
  loop->items = list;
  loop->depth0 = depth0;
  if (f.recursive) {
    const ForStmt* stmt = &f;
    loop->recurse = heap_->NewCallable("loop", [stmt, outer, depth0](Interpreter& in, CallArgs& args)
                                                   -> StatusOr<Value> {
      if (args.pos.size() != 1 || !args.kw.empty()) {
        return TypeError("loop() takes exactly one argument");
      }
      if (++in.call_depth_ > in.options_.limits.max_call_depth) {
        --in.call_depth_;
        return ResourceError("recursive loop nesting exceeds the call depth limit");
      }
      std::string buf;
      std::string* saved = in.out_;
      in.out_ = &buf;
      Status s = in.RunLoop(*stmt, outer, args.pos[0], depth0 + 1);
      in.out_ = saved;
      --in.call_depth_;
      RETURN_IF_ERROR(s);
      return Value::Str(std::move(buf));
    }).callable();
  }
  const Value loop_value = Value::Loop(loop);
  Scope* iteration = NewScope(outer);
  for (size_t i = 0; i < list->items.size(); ++i) {
    RETURN_IF_ERROR(Charge(1));
    iteration->vars.clear();
    loop->index0 = static_cast<int64_t>(i);
    iteration->Set("loop", loop_value);
    RETURN_IF_ERROR(Annotate(BindTarget(f.target, list->items[i], iteration), f.line));
    RETURN_IF_ERROR(ExecBody(f.body, iteration));
    if (flow_ == Flow::kBreak) {
      flow_ = Flow::kNormal;
      break;
    }
    flow_ = Flow::kNormal;
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- macros

Value Interpreter::MakeMacro(const MacroDef& def, Scope* closure) {
  const MacroDef* d = &def;
  Value v = heap_->NewCallable(def.name, [d, closure](Interpreter& in, CallArgs& args) {
    return in.CallMacro(*d, closure, args);
  });
  v.callable()->is_macro = true;
  return v;
}

StatusOr<Value> Interpreter::CallMacro(const MacroDef& def, Scope* closure, CallArgs& args) {
  if (call_depth_ >= options_.limits.max_call_depth) {
    return ResourceError(StrCat("macro calls nested deeper than the limit of ",
                                options_.limits.max_call_depth));
  }
  Scope* s = NewScope(closure);
  const size_t num_params = def.params.size();
  const size_t first_default = num_params - def.defaults.size();
  std::vector<std::pair<std::string, Value>> kw = args.kw;
  auto take_kw = [&kw](std::string_view name, Value* out) {
    for (size_t i = 0; i < kw.size(); ++i) {
      if (kw[i].first == name) {
        *out = std::move(kw[i].second);
        kw.erase(kw.begin() + static_cast<std::ptrdiff_t>(i));
        return true;
      }
    }
    return false;
  };
  // Parameters first (defaults may refer to earlier parameters), then the specials.
  for (size_t i = 0; i < num_params; ++i) {
    Value v;
    if (i < args.pos.size()) {
      v = args.pos[i];
    } else if (!take_kw(def.params[i], &v)) {
      if (i >= first_default) {
        ASSIGN_OR_RETURN(v, Eval(*def.defaults[i - first_default], s));
      } else {
        v = Value::Undefined(StrCat("parameter '", def.params[i], "' was not provided"));
      }
    }
    s->Set(def.params[i], std::move(v));
  }
  if (def.uses_caller) {
    Value caller;
    if (!take_kw("caller", &caller)) caller = Value::Undefined("No caller defined");
    s->Set("caller", std::move(caller));
  }
  if (def.uses_kwargs) {
    Value d = heap_->NewDict();
    for (auto& [k, v] : kw) d.dict()->Set(Value::Str(k), std::move(v));
    s->Set("kwargs", d);
  } else if (!kw.empty()) {
    if (kw[0].first == "caller") {
      return TypeError(StrCat("macro '", def.name, "' was invoked with a caller but does not use one"));
    }
    return TypeError(StrCat("macro '", def.name, "' takes no keyword argument '", kw[0].first, "'"));
  }
  if (def.uses_varargs) {
    std::vector<Value> extra;
    for (size_t i = num_params; i < args.pos.size(); ++i) extra.push_back(args.pos[i]);
    s->Set("varargs", heap_->NewTuple(std::move(extra)));
  } else if (args.pos.size() > num_params) {
    return TypeError(StrCat("macro '", def.name, "' takes not more than ", num_params, " argument(s)"));
  }
  ++call_depth_;
  std::string buf;
  std::string* saved = out_;
  out_ = &buf;
  Status st = ExecBody(def.body, s);
  out_ = saved;
  --call_depth_;
  RETURN_IF_ERROR(st);
  return Value::Str(std::move(buf));
}

Status Interpreter::ExecCallBlock(const CallBlockStmt& c, Scope* scope) {
  const Value caller = MakeMacro(c.caller, scope);
  ASSIGN_OR_RETURN(Value v, EvalCall(static_cast<const CallExpr&>(*c.call), scope, &caller));
  return EmitValue(v);
}

}  // namespace pagellm::jinja
