// Global functions of the chat-template environment: Jinja2's range (sandbox-limited), dict,
// namespace, joiner, and HF's raise_exception and strftime_now.
#include <ctime>

#include "src/jinja/builtins.h"

namespace pagellm::jinja {

namespace {

// Jinja2's sandbox refuses ranges longer than this (MAX_RANGE).
constexpr int64_t kMaxRange = 100000;

StatusOr<Value> Range(Interpreter& in, CallArgs& args) {
  if (!args.kw.empty()) return TypeError("range() takes no keyword arguments");
  if (args.pos.empty() || args.pos.size() > 3) {
    return TypeError(StrCat("range expected at least 1 argument, got ", args.pos.size()));
  }
  int64_t v[3] = {0, 0, 0};
  for (size_t i = 0; i < args.pos.size(); ++i) {
    const Value& a = args.pos[i];
    if (a.is_undefined()) return UndefinedError(a);
    if (!a.is_integral()) {
      return TypeError(StrCat("'", TypeName(a), "' object cannot be interpreted as an integer"));
    }
    v[i] = a.i();
  }
  int64_t start = 0, stop, step = 1;
  if (args.pos.size() == 1) {
    stop = v[0];
  } else {
    start = v[0];
    stop = v[1];
    if (args.pos.size() == 3) step = v[2];
  }
  if (step == 0) return InvalidArgument("range() arg 3 must not be zero");
  __int128 n = 0;
  if (step > 0 && start < stop) n = (static_cast<__int128>(stop) - start + step - 1) / step;
  if (step < 0 && start > stop) n = (static_cast<__int128>(start) - stop - step - 1) / -step;
  if (n > kMaxRange) {
    return InvalidArgument(StrCat("Range too big. The sandbox blocks ranges larger than MAX_RANGE (",
                                  kMaxRange, ")."));
  }
  RETURN_IF_ERROR(in.Charge(static_cast<uint64_t>(n)));
  std::vector<Value> items;
  items.reserve(static_cast<size_t>(n));
  for (int64_t k = 0; k < static_cast<int64_t>(n); ++k) items.push_back(Value::Int(start + k * step));
  return in.heap().NewList(std::move(items));
}

// dict(mapping_or_pairs, **kwargs) into `d`.
Status FillDict(Interpreter& in, CallArgs& args, DictObj* d, std::string_view fn) {
  if (args.pos.size() > 1) return TypeError(StrCat(fn, " expected at most 1 argument, got ", args.pos.size()));
  if (!args.pos.empty()) {
    const Value& src = args.pos[0];
    if (src.is_dict()) {
      for (const auto& [k, v] : src.dict()->entries) d->Set(k, v);
    } else {
      ASSIGN_OR_RETURN(std::vector<Value> pairs, in.Iterate(src));
      for (const Value& p : pairs) {
        ASSIGN_OR_RETURN(std::vector<Value> kv, in.Iterate(p));
        if (kv.size() != 2) return InvalidArgument("dictionary update sequence element has wrong length");
        if (!IsHashable(kv[0])) return TypeError(StrCat("unhashable type: '", TypeName(kv[0]), "'"));
        d->Set(kv[0], kv[1]);
      }
    }
  }
  for (const auto& [k, v] : args.kw) d->Set(Value::Str(k), v);
  in.heap().NoteDict(*d);
  return absl::OkStatus();
}

StatusOr<Value> Dict(Interpreter& in, CallArgs& args) {
  Value d = in.heap().NewDict();
  RETURN_IF_ERROR(FillDict(in, args, d.dict(), "dict"));
  return d;
}

StatusOr<Value> Namespace(Interpreter& in, CallArgs& args) {
  auto* ns = in.heap().New<NamespaceObj>();
  RETURN_IF_ERROR(FillDict(in, args, &ns->attrs, "namespace"));
  for (const auto& [k, v] : ns->attrs.entries) {
    if (!k.is_string()) return TypeError("namespace attribute names must be strings");
  }
  return Value::Namespace(ns);
}

StatusOr<Value> RaiseException(Interpreter&, CallArgs& args) {
  std::string msg = args.pos.empty() ? "" : ToStr(args.pos[0]);
  return InvalidArgument(msg);
}

StatusOr<Value> StrftimeNow(Interpreter& in, CallArgs& args) {
  if (args.pos.size() != 1 || !args.kw.empty() || !args.pos[0].is_string()) {
    return TypeError("strftime_now() takes one format string");
  }
  const auto now = in.options().now ? in.options().now() : std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  localtime_r(&t, &tm);
  const std::string& fmt = args.pos[0].str();
  if (fmt.size() > 1024) return InvalidArgument("strftime_now(): format too long");
  std::string buf(fmt.size() * 16 + 64, '\0');
  const size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
  if (n == 0 && !fmt.empty()) return InvalidArgument("strftime_now(): result too long or invalid");
  buf.resize(n);
  return Value::Str(std::move(buf));
}

StatusOr<Value> Joiner(Interpreter& in, CallArgs& args) {
  ASSIGN_OR_RETURN(auto a, BindArgs("joiner", args, {"sep"}));
  const std::string sep = a[0] ? ToStr(*a[0]) : ", ";
  auto used = std::make_shared<bool>(false);
  return in.heap().NewCallable("joiner", [sep, used](Interpreter&, CallArgs&) -> StatusOr<Value> {
    if (!*used) {
      *used = true;
      return Value::Str("");
    }
    return Value::Str(sep);
  });
}

}  // namespace

void AddGlobals(Heap& heap, Scope* scope) {
  scope->Set("range", heap.NewCallable("range", Range));
  scope->Set("dict", heap.NewCallable("dict", Dict));
  scope->Set("namespace", heap.NewCallable("namespace", Namespace));
  scope->Set("joiner", heap.NewCallable("joiner", Joiner));
  scope->Set("raise_exception", heap.NewCallable("raise_exception", RaiseException));
  scope->Set("strftime_now", heap.NewCallable("strftime_now", StrftimeNow));
}

}  // namespace pagellm::jinja
