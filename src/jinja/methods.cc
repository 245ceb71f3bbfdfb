// Python methods templates call on values: str (split, strip, startswith, format, ...), list,
// tuple and dict (get, items, ...; mutators only outside the immutable sandbox), and the loop
// object (attributes, cycle, changed). Also Python-style argument binding for builtins.
#include <algorithm>

#include "src/jinja/builtins.h"
#include "src/jinja/pystr.h"
#include "src/jinja/strformat.h"

namespace pagellm::jinja {

StatusOr<std::vector<std::optional<Value>>> BindArgs(std::string_view fn, const CallArgs& args,
                                                    std::initializer_list<std::string_view> names) {
  std::vector<std::optional<Value>> out(names.size());
  if (args.pos.size() > names.size()) {
    return TypeError(StrCat(fn, "() takes at most ", names.size(), " argument(s) (", args.pos.size(),
                            " given)"));
  }
  for (size_t i = 0; i < args.pos.size(); ++i) out[i] = args.pos[i];
  for (const auto& [k, v] : args.kw) {
    const auto it = std::find(names.begin(), names.end(), k);
    if (it == names.end()) return TypeError(StrCat(fn, "() got an unexpected keyword argument '", k, "'"));
    auto& slot = out[static_cast<size_t>(it - names.begin())];
    if (slot) return TypeError(StrCat(fn, "() got multiple values for argument '", k, "'"));
    slot = v;
  }
  return out;
}

StatusOr<int64_t> IntArg(std::string_view fn, std::string_view name, const Value& v) {
  if (v.is_integral()) return v.i();
  if (v.is_undefined()) return UndefinedError(v);
  return TypeError(StrCat(fn, "(): '", name, "' must be an integer, not ", TypeName(v)));
}

namespace {

constexpr std::string_view kStrMethods[] = {
    "startswith", "endswith", "strip",      "lstrip",    "rstrip",   "split",     "rsplit",
    "splitlines", "upper",    "lower",      "title",     "capitalize", "swapcase", "casefold",
    "replace",    "find",     "rfind",      "index",     "rindex",   "count",     "format",
    "join",       "isdigit",  "isdecimal",  "isnumeric", "isalpha",  "isalnum",   "isspace",
    "islower",    "isupper",  "istitle",    "zfill",     "center",   "ljust",     "rjust",
    "partition",  "rpartition", "removeprefix", "removesuffix"};
constexpr std::string_view kSeqSafe[] = {"index", "count"};
constexpr std::string_view kListSafe[] = {"index", "count", "copy"};
constexpr std::string_view kListMutating[] = {"append", "extend", "insert", "pop",
                                              "remove", "reverse", "sort", "clear"};
constexpr std::string_view kDictSafe[] = {"get", "items", "keys", "values", "copy"};
constexpr std::string_view kDictMutating[] = {"pop", "popitem", "setdefault", "update", "clear"};
constexpr std::string_view kLoopMethods[] = {"cycle", "changed"};

template <size_t N>
bool In(const std::string_view (&names)[N], std::string_view name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

StatusOr<std::optional<std::string>> OptStr(std::string_view fn, const std::optional<Value>& v) {
  if (!v || v->is_none()) return std::optional<std::string>();
  if (!v->is_string()) return TypeError(StrCat(fn, "() argument must be str or None, not ", TypeName(*v)));
  return std::optional<std::string>(v->str());
}

StatusOr<std::optional<int64_t>> OptInt(std::string_view fn, const std::optional<Value>& v) {
  if (!v || v->is_none()) return std::optional<int64_t>();
  ASSIGN_OR_RETURN(int64_t i, IntArg(fn, "index", *v));
  return std::optional<int64_t>(i);
}

StatusOr<std::string> ReqStr(std::string_view fn, const std::optional<Value>& v) {
  if (!v) return TypeError(StrCat(fn, "() missing a required argument"));
  if (!v->is_string()) return TypeError(StrCat(fn, "() argument must be str, not ", TypeName(*v)));
  return v->str();
}

Value StrList(Heap& heap, std::vector<std::string> parts) {
  std::vector<Value> items;
  items.reserve(parts.size());
  for (auto& p : parts) items.push_back(Value::Str(std::move(p)));
  return heap.NewList(std::move(items));
}

template <typename Pred>
Value AllChars(std::string_view s, Pred pred) {
  if (s.empty()) return Value::Bool(false);
  size_t pos = 0;
  while (pos < s.size()) {
    if (!pred(py::NextCodepoint(s, &pos))) return Value::Bool(false);
  }
  return Value::Bool(true);
}

StatusOr<Value> StrMethod(Interpreter& in, const std::string& s, std::string_view m, CallArgs& args) {
  Heap& heap = in.heap();
  if (m == "format") {
    ASSIGN_OR_RETURN(std::string out, StrDotFormat(in, s, args));
    return Value::Str(std::move(out));
  }
  if (m == "startswith" || m == "endswith") {
    ASSIGN_OR_RETURN(auto a, BindArgs(m, args, {"prefix", "start", "end"}));
    if (!a[0]) return TypeError(StrCat(m, "() takes at least 1 argument (0 given)"));
    ASSIGN_OR_RETURN(auto start, OptInt(m, a[1]));
    ASSIGN_OR_RETURN(auto end, OptInt(m, a[2]));
    std::vector<Value> candidates;
    if (a[0]->is_tuple()) {
      candidates = a[0]->list()->items;
    } else {
      candidates.push_back(*a[0]);
    }
    std::string window = s;
    if (start || end) {
      ASSIGN_OR_RETURN(Value w, SliceValue(in, Value::Str(s), start, end, std::nullopt));
      window = w.str();
      if (start && *start > static_cast<int64_t>(py::CountCodepoints(s))) return Value::Bool(false);
    }
    for (const Value& c : candidates) {
      if (!c.is_string()) {
        return TypeError(StrCat(m, " first arg must be str or a tuple of str, not ", TypeName(c)));
      }
      const std::string& p = c.str();
      const bool hit = m == "startswith" ? window.compare(0, p.size(), p) == 0 && window.size() >= p.size()
                                         : window.size() >= p.size() &&
                                               window.compare(window.size() - p.size(), p.size(), p) == 0;
      if (hit) return Value::Bool(true);
    }
    return Value::Bool(false);
  }
  if (m == "strip" || m == "lstrip" || m == "rstrip") {
    ASSIGN_OR_RETURN(auto a, BindArgs(m, args, {"chars"}));
    ASSIGN_OR_RETURN(auto chars, OptStr(m, a[0]));
    return Value::Str(py::Strip(s, chars, m != "rstrip", m != "lstrip"));
  }
  if (m == "split" || m == "rsplit") {
    ASSIGN_OR_RETURN(auto a, BindArgs(m, args, {"sep", "maxsplit"}));
    ASSIGN_OR_RETURN(auto sep, OptStr(m, a[0]));
    int64_t maxsplit = -1;
    if (a[1]) {
      ASSIGN_OR_RETURN(maxsplit, IntArg(m, "maxsplit", *a[1]));
    }
    if (sep && sep->empty()) return InvalidArgument("empty separator");
    auto parts = m == "split" ? py::Split(s, sep, maxsplit) : py::RSplit(s, sep, maxsplit);
    RETURN_IF_ERROR(in.Charge(parts.size()));
    return StrList(heap, std::move(parts));
  }
  if (m == "splitlines") {
    ASSIGN_OR_RETURN(auto a, BindArgs(m, args, {"keepends"}));
    auto parts = py::SplitLines(s, a[0] && Truthy(*a[0]));
    RETURN_IF_ERROR(in.Charge(parts.size()));
    return StrList(heap, std::move(parts));
  }
  if (m == "upper" || m == "lower" || m == "title" || m == "capitalize" || m == "swapcase" ||
      m == "casefold") {
    RETURN_IF_ERROR(BindArgs(m, args, {}).status());
    if (m == "upper") return Value::Str(py::Upper(s));
    if (m == "lower" || m == "casefold") return Value::Str(py::Lower(s));
    if (m == "title") return Value::Str(py::Title(s));
    if (m == "capitalize") return Value::Str(py::Capitalize(s));
    return Value::Str(py::SwapCase(s));
  }
  if (m == "replace") {
    ASSIGN_OR_RETURN(auto a, BindArgs(m, args, {"old", "new", "count"}));
    ASSIGN_OR_RETURN(std::string old_s, ReqStr(m, a[0]));
    ASSIGN_OR_RETURN(std::string new_s, ReqStr(m, a[1]));
    int64_t count = -1;
    if (a[2]) {
      ASSIGN_OR_RETURN(count, IntArg(m, "count", *a[2]));
    }
    const size_t n = old_s.empty() ? py::CountCodepoints(s) + 1 : s.size() / old_s.size() + 1;
    RETURN_IF_ERROR(in.ChargeBytes(s.size() + n * new_s.size()));
    return Value::Str(py::Replace(s, old_s, new_s, count));
  }
  if (m == "find" || m == "rfind" || m == "index" || m == "rindex" || m == "count") {
    ASSIGN_OR_RETURN(auto a, BindArgs(m, args, {"sub", "start", "end"}));
    ASSIGN_OR_RETURN(std::string sub, ReqStr(m, a[0]));
    ASSIGN_OR_RETURN(auto start, OptInt(m, a[1]));
    ASSIGN_OR_RETURN(auto end, OptInt(m, a[2]));
    if (m == "count") return Value::Int(py::Count(s, sub, start, end));
    const int64_t r = py::Find(s, sub, start, end, m[0] == 'r');
    if (r < 0 && (m == "index" || m == "rindex")) return InvalidArgument("substring not found");
    return Value::Int(r);
  }
  if (m == "join") {
    ASSIGN_OR_RETURN(auto a, BindArgs(m, args, {"iterable"}));
    if (!a[0]) return TypeError("join() takes exactly one argument (0 given)");
    ASSIGN_OR_RETURN(std::vector<Value> items, in.Iterate(*a[0]));
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string()) {
        return TypeError(StrCat("sequence item ", i, ": expected str instance, ", TypeName(items[i]), " found"));
      }
      if (i) out += s;
      out += items[i].str();
      RETURN_IF_ERROR(in.ChargeBytes(out.size()));
    }
    return Value::Str(std::move(out));
  }
  if (m.substr(0, 2) == "is") {
    RETURN_IF_ERROR(BindArgs(m, args, {}).status());
    if (m == "isdigit" || m == "isdecimal" || m == "isnumeric") return AllChars(s, py::IsDecimal);
    if (m == "isalpha") return AllChars(s, py::IsAlpha);
    if (m == "isalnum") return AllChars(s, py::IsAlnum);
    if (m == "isspace") return AllChars(s, py::IsSpace);
    if (m == "islower" || m == "isupper") {
      bool cased = false;
      size_t pos = 0;
      while (pos < s.size()) {
        const char32_t c = py::NextCodepoint(s, &pos);
        if (m == "islower" ? py::IsUpper(c) : py::IsLower(c)) return Value::Bool(false);
        cased = cased || py::IsCased(c);
      }
      return Value::Bool(cased);
    }
    // istitle: uppercase only after uncased, lowercase only after cased.
    bool prev_cased = false, any = false;
    size_t pos = 0;
    while (pos < s.size()) {
      const char32_t c = py::NextCodepoint(s, &pos);
      if (py::IsUpper(c)) {
        if (prev_cased) return Value::Bool(false);
        prev_cased = any = true;
      } else if (py::IsLower(c)) {
        if (!prev_cased) return Value::Bool(false);
        prev_cased = any = true;
      } else {
        prev_cased = false;
      }
    }
    return Value::Bool(any);
  }
  if (m == "zfill" || m == "center" || m == "ljust" || m == "rjust") {
    ASSIGN_OR_RETURN(auto a, BindArgs(m, args, {"width", "fillchar"}));
    if (!a[0]) return TypeError(StrCat(m, "() takes at least 1 argument (0 given)"));
    ASSIGN_OR_RETURN(int64_t width, IntArg(m, "width", *a[0]));
    RETURN_IF_ERROR(in.ChargeBytes(static_cast<size_t>(std::max<int64_t>(0, width)) * 4));
    if (m == "zfill") {
      const auto len = static_cast<int64_t>(py::CountCodepoints(s));
      if (width <= len) return Value::Str(s);
      const bool sign = !s.empty() && (s[0] == '+' || s[0] == '-');
      std::string out = sign ? s.substr(0, 1) : "";
      out.append(static_cast<size_t>(width - len), '0');
      out += sign ? s.substr(1) : s;
      return Value::Str(std::move(out));
    }
    std::string fill = " ";
    if (a[1]) {
      ASSIGN_OR_RETURN(fill, ReqStr(m, a[1]));
      if (py::CountCodepoints(fill) != 1) {
        return TypeError("The fill character must be exactly one character long");
      }
    }
    return Value::Str(py::Pad(s, width, fill, m == "center" ? 0 : m == "ljust" ? -1 : 1));
  }
  if (m == "partition" || m == "rpartition") {
    ASSIGN_OR_RETURN(auto a, BindArgs(m, args, {"sep"}));
    ASSIGN_OR_RETURN(std::string sep, ReqStr(m, a[0]));
    if (sep.empty()) return InvalidArgument("empty separator");
    const size_t hit = m == "partition" ? s.find(sep) : s.rfind(sep);
    if (hit == std::string::npos) {
      return m == "partition"
                 ? heap.NewTuple({Value::Str(s), Value::Str(""), Value::Str("")})
                 : heap.NewTuple({Value::Str(""), Value::Str(""), Value::Str(s)});
    }
    return heap.NewTuple({Value::Str(s.substr(0, hit)), Value::Str(sep), Value::Str(s.substr(hit + sep.size()))});
  }
  if (m == "removeprefix" || m == "removesuffix") {
    ASSIGN_OR_RETURN(auto a, BindArgs(m, args, {"affix"}));
    ASSIGN_OR_RETURN(std::string affix, ReqStr(m, a[0]));
    if (m == "removeprefix" && s.compare(0, affix.size(), affix) == 0) return Value::Str(s.substr(affix.size()));
    if (m == "removesuffix" && s.size() >= affix.size() && s.compare(s.size() - affix.size(), affix.size(), affix) == 0) {
      return Value::Str(s.substr(0, s.size() - affix.size()));
    }
    return Value::Str(s);
  }
  return TypeError(StrCat("'str' object has no attribute '", m, "'"));
}

StatusOr<Value> SeqMethod(Interpreter& in, const Value& obj, std::string_view m, CallArgs& args) {
  auto& items = obj.list()->items;
  if (m == "index" || m == "count") {
    ASSIGN_OR_RETURN(auto a, BindArgs(m, args, {"value", "start", "stop"}));
    if (!a[0]) return TypeError(StrCat(m, "() takes at least 1 argument (0 given)"));
    int64_t n = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!Equal(items[i], *a[0])) continue;
      if (m == "index") return Value::Int(static_cast<int64_t>(i));
      ++n;
    }
    if (m == "index") return InvalidArgument(StrCat(Repr(*a[0]), " is not in list"));
    return Value::Int(n);
  }
  if (m == "copy") return in.heap().NewList(items);
  if (m == "append") {
    ASSIGN_OR_RETURN(auto a, BindArgs(m, args, {"object"}));
    if (!a[0]) return TypeError("append() takes exactly one argument (0 given)");
    RETURN_IF_ERROR(in.Charge(1));
    items.push_back(*a[0]);
    obj.list()->Recount();
    in.heap().NoteSize(obj.list()->tree_size);
    return Value::None();
  }
  if (m == "extend") {
    ASSIGN_OR_RETURN(auto a, BindArgs(m, args, {"iterable"}));
    if (!a[0]) return TypeError("extend() takes exactly one argument (0 given)");
    ASSIGN_OR_RETURN(std::vector<Value> more, in.Iterate(*a[0]));
    items.insert(items.end(), more.begin(), more.end());
    obj.list()->Recount();
    in.heap().NoteSize(obj.list()->tree_size);
    return Value::None();
  }
  if (m == "insert") {
    ASSIGN_OR_RETURN(auto a, BindArgs(m, args, {"index", "object"}));
    if (!a[0] || !a[1]) return TypeError("insert expected 2 arguments");
    ASSIGN_OR_RETURN(int64_t i, IntArg(m, "index", *a[0]));
    const auto n = static_cast<int64_t>(items.size());
    if (i < 0) i = std::max<int64_t>(0, i + n);
    i = std::min(i, n);
    items.insert(items.begin() + i, *a[1]);
    obj.list()->Recount();
    in.heap().NoteSize(obj.list()->tree_size);
    return Value::None();
  }
  if (m == "pop") {
    ASSIGN_OR_RETURN(auto a, BindArgs(m, args, {"index"}));
    int64_t i = -1;
    if (a[0]) {
      ASSIGN_OR_RETURN(i, IntArg(m, "index", *a[0]));
    }
    if (items.empty()) return InvalidArgument("pop from empty list");
    const auto n = static_cast<int64_t>(items.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) return InvalidArgument("pop index out of range");
    Value v = items[static_cast<size_t>(i)];
    items.erase(items.begin() + i);
    obj.list()->Recount();
    return v;
  }
  if (m == "remove") {
    ASSIGN_OR_RETURN(auto a, BindArgs(m, args, {"value"}));
    if (!a[0]) return TypeError("remove() takes exactly one argument (0 given)");
    for (size_t i = 0; i < items.size(); ++i) {
      if (Equal(items[i], *a[0])) {
        items.erase(items.begin() + static_cast<std::ptrdiff_t>(i));
        obj.list()->Recount();
        return Value::None();
      }
    }
    return InvalidArgument("list.remove(x): x not in list");
  }
  if (m == "reverse") {
    std::reverse(items.begin(), items.end());
    return Value::None();
  }
  if (m == "clear") {
    items.clear();
    obj.list()->Recount();
    return Value::None();
  }
  if (m == "sort") {
    ASSIGN_OR_RETURN(auto a, BindArgs(m, args, {"key", "reverse"}));
    if (a[0] && !a[0]->is_none()) return InvalidArgument("list.sort(key=...) is not supported");
    const bool rev = a[1] && Truthy(*a[1]);
    Status err;
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
      auto lt = rev ? Less(y, x) : Less(x, y);
      if (!lt.ok() && err.ok()) err = lt.status();
      return lt.ok() && *lt;
    });
    RETURN_IF_ERROR(err);
    return Value::None();
  }
  return TypeError(StrCat("'", TypeName(obj), "' object has no attribute '", m, "'"));
}

StatusOr<Value> DictMethod(Interpreter& in, const Value& obj, std::string_view m, CallArgs& args) {
  DictObj* d = obj.dict();
  Heap& heap = in.heap();
  if (m == "get" || m == "pop" || m == "setdefault") {
    ASSIGN_OR_RETURN(auto a, BindArgs(m, args, {"key", "default"}));
    if (!a[0]) return TypeError(StrCat(m, " expected at least 1 argument, got 0"));
    if (!IsHashable(*a[0])) return TypeError(StrCat("unhashable type: '", TypeName(*a[0]), "'"));
    const Value* v = d->Find(*a[0]);
    if (m == "get") return v ? *v : a[1].value_or(Value::None());
    if (m == "setdefault") {
      if (v) return *v;
      d->Set(*a[0], a[1].value_or(Value::None()));
      heap.NoteSize(d->tree_size);
      return a[1].value_or(Value::None());
    }
    if (!v) {
      if (a[1]) return *a[1];
      return InvalidArgument(StrCat("KeyError: ", Repr(*a[0])));
    }
    Value out = *v;
    d->Erase(*a[0]);
    return out;
  }
  RETURN_IF_ERROR(in.Charge(d->size()));
  if (m == "items" || m == "keys" || m == "values") {
    RETURN_IF_ERROR(BindArgs(m, args, {}).status());
    std::vector<Value> out;
    out.reserve(d->size());
    for (const auto& [k, v] : d->entries) {
      if (m == "items") {
        out.push_back(heap.NewTuple({k, v}));
      } else {
        out.push_back(m == "keys" ? k : v);
      }
    }
    return heap.NewList(std::move(out));
  }
  if (m == "copy") {
    Value copy = heap.NewDict();
    for (const auto& [k, v] : d->entries) copy.dict()->Set(k, v);
    heap.NoteDict(*copy.dict());
    return copy;
  }
  if (m == "clear") {
    while (!d->entries.empty()) d->Erase(d->entries.back().first);
    return Value::None();
  }
  if (m == "popitem") {
    if (d->entries.empty()) return InvalidArgument("KeyError: 'popitem(): dictionary is empty'");
    auto last = d->entries.back();
    d->Erase(last.first);
    return heap.NewTuple({last.first, last.second});
  }
  if (m == "update") {
    if (args.pos.size() > 1) return TypeError("update expected at most 1 argument");
    if (!args.pos.empty()) {
      const Value& other = args.pos[0];
      if (other.is_dict()) {
        for (const auto& [k, v] : other.dict()->entries) d->Set(k, v);
      } else {
        ASSIGN_OR_RETURN(std::vector<Value> pairs, in.Iterate(other));
        for (const Value& p : pairs) {
          ASSIGN_OR_RETURN(std::vector<Value> kv, in.Iterate(p));
          if (kv.size() != 2) return InvalidArgument("dictionary update sequence element has wrong length");
          if (!IsHashable(kv[0])) return TypeError(StrCat("unhashable type: '", TypeName(kv[0]), "'"));
          d->Set(kv[0], kv[1]);
        }
      }
    }
    for (const auto& [k, v] : args.kw) d->Set(Value::Str(k), v);
    heap.NoteSize(d->tree_size);
    return Value::None();
  }
  return TypeError(StrCat("'dict' object has no attribute '", m, "'"));
}

}  // namespace

MethodSafety FindMethod(const Value& obj, std::string_view name) {
  switch (obj.kind()) {
    case Kind::kString: return In(kStrMethods, name) ? MethodSafety::kSafe : MethodSafety::kNone;
    case Kind::kTuple: return In(kSeqSafe, name) ? MethodSafety::kSafe : MethodSafety::kNone;
    case Kind::kList:
      if (In(kListSafe, name)) return MethodSafety::kSafe;
      return In(kListMutating, name) ? MethodSafety::kMutating : MethodSafety::kNone;
    case Kind::kDict:
      if (In(kDictSafe, name)) return MethodSafety::kSafe;
      return In(kDictMutating, name) ? MethodSafety::kMutating : MethodSafety::kNone;
    case Kind::kLoop: return In(kLoopMethods, name) ? MethodSafety::kSafe : MethodSafety::kNone;
    default: return MethodSafety::kNone;
  }
}

StatusOr<Value> CallMethod(Interpreter& in, const Value& obj, std::string_view name, CallArgs& args) {
  RETURN_IF_ERROR(in.Charge(1));
  switch (obj.kind()) {
    case Kind::kString: return StrMethod(in, obj.str(), name, args);
    case Kind::kList:
    case Kind::kTuple: return SeqMethod(in, obj, name, args);
    case Kind::kDict: return DictMethod(in, obj, name, args);
    case Kind::kLoop: {
      LoopObj* loop = obj.loop();
      if (!args.kw.empty()) return TypeError(StrCat("loop.", name, "() takes no keyword arguments"));
      if (name == "cycle") {
        if (args.pos.empty()) return TypeError("no items for cycling given");
        return args.pos[static_cast<size_t>(loop->index0) % args.pos.size()];
      }
      Value current = in.heap().NewTuple(args.pos);
      if (loop->has_changed_value && Equal(loop->changed_value, current)) return Value::Bool(false);
      loop->has_changed_value = true;
      loop->changed_value = current;
      return Value::Bool(true);
    }
    default: return TypeError(StrCat("'", TypeName(obj), "' object has no attribute '", name, "'"));
  }
}

Value LoopAttribute(Interpreter& in, const Value& loop_value, std::string_view name) {
  const LoopObj* loop = loop_value.loop();
  const auto& items = loop->items->items;
  const auto n = static_cast<int64_t>(items.size());
  const int64_t i = loop->index0;
  if (name == "index") return Value::Int(i + 1);
  if (name == "index0") return Value::Int(i);
  if (name == "revindex") return Value::Int(n - i);
  if (name == "revindex0") return Value::Int(n - i - 1);
  if (name == "first") return Value::Bool(i == 0);
  if (name == "last") return Value::Bool(i == n - 1);
  if (name == "length") return Value::Int(n);
  if (name == "depth") return Value::Int(loop->depth0 + 1);
  if (name == "depth0") return Value::Int(loop->depth0);
  if (name == "previtem") {
    return i > 0 ? items[static_cast<size_t>(i - 1)] : Value::Undefined("there is no previous item");
  }
  if (name == "nextitem") {
    return i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::Undefined("there is no next item");
  }
  return Value::Undefined(StrCat("'LoopContext' object has no attribute '", name, "'"));
}

}  // namespace pagellm::jinja
