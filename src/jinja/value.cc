// Value construction, the render Heap, and Python semantics (truthiness, ==, <, str, repr).
#include "src/jinja/value.h"

#include <cmath>

#include "src/jinja/pystr.h"

namespace pagellm::jinja {

namespace {
// Printing and comparing stop descending here (cycles through namespaces, absurd nesting).
constexpr int kMaxValueDepth = 256;
// Printing stops growing its output here (namespaces are not size-tracked and may be cyclic).
constexpr size_t kMaxPrintBytes = size_t{32} << 20;
}  // namespace

Value Value::Undefined(std::string message, bool unsafe) {
  Value v;
  v.str_ = std::make_shared<const std::string>(std::move(message));
  v.flag_ = unsafe;
  return v;
}
Value Value::None() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}
Value Value::Bool(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.i_ = 0;
  v.b_ = b;
  return v;
}
Value Value::Int(int64_t i) {
  Value v;
  v.kind_ = Kind::kInt;
  v.i_ = i;
  return v;
}
Value Value::Float(double d) {
  Value v;
  v.kind_ = Kind::kFloat;
  v.d_ = d;
  return v;
}
Value Value::Str(std::string s) {
  Value v;
  v.kind_ = Kind::kString;
  v.str_ = std::make_shared<const std::string>(std::move(s));
  return v;
}
Value Value::Markup(std::string s) {
  Value v = Str(std::move(s));
  v.flag_ = true;
  return v;
}
Value Value::Str(std::shared_ptr<const std::string> s) {
  Value v;
  v.kind_ = Kind::kString;
  v.str_ = std::move(s);
  return v;
}
#define PAGELLM_JINJA_OBJ_CTOR(Name, Type, K) \
  Value Value::Name(Type* p) {                \
    Value v;                                  \
    v.kind_ = Kind::K;                        \
    v.obj_ = p;                               \
    return v;                                 \
  }
PAGELLM_JINJA_OBJ_CTOR(List, ListObj, kList)
PAGELLM_JINJA_OBJ_CTOR(Tuple, ListObj, kTuple)
PAGELLM_JINJA_OBJ_CTOR(Dict, DictObj, kDict)
PAGELLM_JINJA_OBJ_CTOR(Namespace, NamespaceObj, kNamespace)
PAGELLM_JINJA_OBJ_CTOR(Callable, CallableObj, kCallable)
PAGELLM_JINJA_OBJ_CTOR(Loop, LoopObj, kLoop)
#undef PAGELLM_JINJA_OBJ_CTOR

std::string Value::UndefinedMessage() const {
  if (str_ && !str_->empty()) return *str_;
  return "value is undefined";
}

// ---------------------------------------------------------------- sizes

namespace {
uint64_t SatAdd(uint64_t a, uint64_t b) { return a > UINT64_MAX / 2 || b > UINT64_MAX / 2 ? UINT64_MAX / 2 : a + b; }
}  // namespace

uint64_t TreeSize(const Value& v) {
  switch (v.kind()) {
    case Kind::kList:
    case Kind::kTuple: return v.list()->tree_size;
    case Kind::kDict: return v.dict()->tree_size;
    default: return 1;
  }
}

void ListObj::Recount() {
  uint64_t n = 1;
  for (const Value& x : items) n = SatAdd(n, TreeSize(x));
  tree_size = n;
}

// ---------------------------------------------------------------- DictObj

const Value* DictObj::FindStr(std::string_view key) const {
  auto it = str_index_.find(key);
  return it == str_index_.end() ? nullptr : &entries[it->second].second;
}

const Value* DictObj::Find(const Value& key) const {
  if (key.is_string()) return FindStr(key.str());
  for (const auto& [k, v] : entries) {
    if (!k.is_string() && Equal(k, key)) return &v;
  }
  return nullptr;
}

void DictObj::Set(const Value& key, Value value) {
  auto replace = [this](Value& slot, Value value) {
    const uint64_t old_size = TreeSize(slot);
    tree_size = SatAdd(tree_size > old_size ? tree_size - old_size : 1, TreeSize(value));
    slot = std::move(value);
  };
  if (key.is_string()) {
    auto it = str_index_.find(std::string_view(key.str()));
    if (it != str_index_.end()) {
      replace(entries[it->second].second, std::move(value));
      return;
    }
    str_index_.emplace(key.str(), entries.size());
  } else {
    for (auto& [k, v] : entries) {
      if (!k.is_string() && Equal(k, key)) {
        replace(v, std::move(value));  // Python keeps the first key object
        return;
      }
    }
  }
  tree_size = SatAdd(tree_size, SatAdd(TreeSize(key), TreeSize(value)));
  entries.emplace_back(key, std::move(value));
}

bool DictObj::Erase(const Value& key) {
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].first.is_string() == key.is_string() && Equal(entries[i].first, key)) {
      entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(i));
      Reindex();
      return true;
    }
  }
  return false;
}

void DictObj::Reindex() {
  tree_size = 1;
  for (const auto& [k, x] : entries) tree_size = SatAdd(tree_size, SatAdd(TreeSize(k), TreeSize(x)));
  str_index_.clear();
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].first.is_string()) str_index_.emplace(entries[i].first.str(), i);
  }
}

// ---------------------------------------------------------------- Heap

Value Heap::NewList(std::vector<Value> items) {
  auto* l = New<ListObj>();
  l->items = std::move(items);
  l->Recount();
  NoteSize(l->tree_size);
  num_items_ += l->items.size();
  return Value::List(l);
}
Value Heap::NewTuple(std::vector<Value> items) {
  auto* l = New<ListObj>();
  l->items = std::move(items);
  l->Recount();
  NoteSize(l->tree_size);
  num_items_ += l->items.size();
  return Value::Tuple(l);
}
Value Heap::NewDict() { return Value::Dict(New<DictObj>()); }
void Heap::NoteDict(const DictObj& d) {
  NoteSize(d.tree_size);
  num_items_ += d.size();
}
Value Heap::NewCallable(std::string name, NativeFn fn) {
  auto* c = New<CallableObj>();
  c->name = std::move(name);
  c->fn = std::move(fn);
  return Value::Callable(c);
}

// ---------------------------------------------------------------- Python semantics

bool Truthy(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined:
    case Kind::kNone: return false;
    case Kind::kBool: return v.b();
    case Kind::kInt: return v.i() != 0;
    case Kind::kFloat: return v.d() != 0.0;
    case Kind::kString: return !v.str().empty();
    case Kind::kList:
    case Kind::kTuple: return !v.list()->items.empty();
    case Kind::kDict: return v.dict()->size() != 0;
    default: return true;
  }
}

const char* TypeName(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined: return "Undefined";
    case Kind::kNone: return "NoneType";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return "str";
    case Kind::kList: return "list";
    case Kind::kTuple: return "tuple";
    case Kind::kDict: return "dict";
    case Kind::kNamespace: return "Namespace";
    case Kind::kCallable: return v.callable()->is_macro ? "Macro" : "function";
    case Kind::kLoop: return "LoopContext";
  }
  return "object";
}

namespace {
bool IsHashableAt(const Value& v, int depth) {
  switch (v.kind()) {
    case Kind::kList:
    case Kind::kDict: return false;
    case Kind::kTuple:
      if (depth > kMaxValueDepth) return false;  // absurdly nested: treat as unhashable
      for (const Value& x : v.list()->items) {
        if (!IsHashableAt(x, depth + 1)) return false;
      }
      return true;
    default: return true;
  }
}
}  // namespace

bool IsHashable(const Value& v) { return IsHashableAt(v, 0); }

namespace {
bool EqualAt(const Value& a, const Value& b, int depth) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.d() == b.d();
    return a.i() == b.i();
  }
  if (depth > kMaxValueDepth) return false;
  switch (a.kind()) {
    case Kind::kUndefined: return b.is_undefined();
    case Kind::kNone: return b.is_none();
    case Kind::kString: return b.is_string() && a.str() == b.str();
    case Kind::kList:
    case Kind::kTuple: {
      if (b.kind() != a.kind()) return false;
      const auto& x = a.list()->items;
      const auto& y = b.list()->items;
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!EqualAt(x[i], y[i], depth + 1)) return false;
      }
      return true;
    }
    case Kind::kDict: {
      if (!b.is_dict()) return false;
      if (a.dict()->size() != b.dict()->size()) return false;
      for (const auto& [k, v] : a.dict()->entries) {
        const Value* other = b.dict()->Find(k);
        if (other == nullptr || !EqualAt(v, *other, depth + 1)) return false;
      }
      return true;
    }
    case Kind::kNamespace:
    case Kind::kCallable:
    case Kind::kLoop: return a.kind() == b.kind() && a.identity() == b.identity();
    default: return false;
  }
}

StatusOr<bool> LessAt(const Value& a, const Value& b, std::string_view op, int depth) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.d() < b.d();
    return a.i() < b.i();
  }
  if (a.is_string() && b.is_string()) return a.str() < b.str();  // UTF-8 order = code point order
  if (a.is_sequence() && b.kind() == a.kind() && depth <= kMaxValueDepth) {
    const auto& x = a.list()->items;
    const auto& y = b.list()->items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (EqualAt(x[i], y[i], depth + 1)) continue;
      return LessAt(x[i], y[i], op, depth + 1);
    }
    return x.size() < y.size();
  }
  if (a.is_undefined() || b.is_undefined()) {
    return InvalidArgument((a.is_undefined() ? a : b).UndefinedMessage());
  }
  return InvalidArgument(StrCat("'", op, "' not supported between instances of '", TypeName(a),
                                "' and '", TypeName(b), "'"));
}

void AppendAt(const Value& v, bool repr, int depth, std::string* out) {
  if (out->size() > kMaxPrintBytes) return;  // the caller's size limit reports it
  switch (v.kind()) {
    case Kind::kUndefined:  // str(Undefined) is empty; repr (inside containers) is "Undefined"
      if (repr) *out += "Undefined";
      return;
    case Kind::kNone: *out += "None"; return;
    case Kind::kBool: *out += v.b() ? "True" : "False"; return;
    case Kind::kInt: *out += std::to_string(v.i()); return;
    case Kind::kFloat: *out += py::FloatRepr(v.d()); return;
    case Kind::kString:
      if (repr) {
        *out += py::StrRepr(v.str());
      } else {
        *out += v.str();
      }
      return;
    default: break;
  }
  if (depth > kMaxValueDepth) {
    *out += "...";
    return;
  }
  switch (v.kind()) {
    case Kind::kList:
    case Kind::kTuple: {
      const auto& items = v.list()->items;
      out->push_back(v.is_list() ? '[' : '(');
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) *out += ", ";
        AppendAt(items[i], true, depth + 1, out);
      }
      if (v.is_tuple() && items.size() == 1) out->push_back(',');
      out->push_back(v.is_list() ? ']' : ')');
      return;
    }
    case Kind::kDict:
    case Kind::kNamespace: {
      const DictObj& d = v.is_dict() ? *v.dict() : v.ns()->attrs;
      if (v.is_namespace()) *out += "<Namespace ";
      out->push_back('{');
      bool first = true;
      for (const auto& [k, x] : d.entries) {
        if (!first) *out += ", ";
        first = false;
        AppendAt(k, true, depth + 1, out);
        *out += ": ";
        AppendAt(x, true, depth + 1, out);
      }
      out->push_back('}');
      if (v.is_namespace()) out->push_back('>');
      return;
    }
    case Kind::kCallable:
      if (v.callable()->is_macro) {
        *out += StrCat("<Macro ", py::StrRepr(v.callable()->name), ">");
      } else {
        *out += StrCat("<built-in function ", v.callable()->name, ">");
      }
      return;
    case Kind::kLoop:
      *out += StrCat("<LoopContext ", v.loop()->index0 + 1, "/", v.loop()->items->items.size(), ">");
      return;
    default: return;
  }
}
}  // namespace

bool Equal(const Value& a, const Value& b) { return EqualAt(a, b, 0); }

StatusOr<bool> Less(const Value& a, const Value& b, std::string_view op) {
  return LessAt(a, b, op, 0);
}

void AppendStr(const Value& v, std::string* out) { AppendAt(v, false, 0, out); }
void AppendRepr(const Value& v, std::string* out) {
  if (v.is_undefined()) {
    *out += "Undefined";
    return;
  }
  AppendAt(v, true, 0, out);
}
std::string ToStr(const Value& v) {
  if (v.is_string()) return v.str();
  std::string out;
  AppendStr(v, &out);
  return out;
}
std::string Repr(const Value& v) {
  std::string out;
  AppendRepr(v, &out);
  return out;
}

}  // namespace pagellm::jinja
