// Jinja runtime values: a Python-like dynamic Value (undefined, none, bool, int, float, str, list,
// tuple, dict, namespace, callable, loop) and the per-render Heap that owns every container.
//
// Containers live in the Heap of one render and are referenced by raw pointer, so values are
// cheap to copy, reference cycles (a namespace holding itself) cannot leak, and destruction is
// flat (no recursion however deeply values nest). Strings are shared immutable buffers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "src/base/status.h"

namespace pagellm::jinja {

class Interpreter;

enum class Kind : uint8_t {
  kUndefined,
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,
  kList,
  kTuple,
  kDict,
  kNamespace,
  kCallable,
  kLoop,
};

struct Object {
  virtual ~Object() = default;
};
struct ListObj;
struct DictObj;
struct NamespaceObj;
struct CallableObj;
struct LoopObj;

class Value {
 public:
  Value() : i_(0) {}  // undefined without a hint
  static Value Undefined(std::string message, bool unsafe = false);
  static Value None();
  static Value Bool(bool b);
  static Value Int(int64_t i);
  static Value Float(double d);
  static Value Str(std::string s);
  static Value Str(std::shared_ptr<const std::string> s);
  // A markupsafe.Markup string (from |safe / |escape): concatenating a plain string to it
  // HTML-escapes the plain one, as in Jinja2.
  static Value Markup(std::string s);
  static Value List(ListObj* l);
  static Value Tuple(ListObj* l);
  static Value Dict(DictObj* d);
  static Value Namespace(NamespaceObj* n);
  static Value Callable(CallableObj* c);
  static Value Loop(LoopObj* l);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }  // excludes bool
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_integral() const { return kind_ == Kind::kInt || kind_ == Kind::kBool; }  // int or bool
  bool is_number() const { return is_integral() || kind_ == Kind::kFloat; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_markup() const { return kind_ == Kind::kString && flag_; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_tuple() const { return kind_ == Kind::kTuple; }
  bool is_sequence() const { return kind_ == Kind::kList || kind_ == Kind::kTuple; }  // list/tuple
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_namespace() const { return kind_ == Kind::kNamespace; }
  bool is_callable() const { return kind_ == Kind::kCallable; }
  bool is_loop() const { return kind_ == Kind::kLoop; }

  bool b() const { return b_; }
  int64_t i() const { return kind_ == Kind::kBool ? (b_ ? 1 : 0) : i_; }  // int or bool
  double d() const { return kind_ == Kind::kFloat ? d_ : static_cast<double>(i()); }  // number
  const std::string& str() const { return *str_; }
  const std::shared_ptr<const std::string>& shared_str() const { return str_; }
  ListObj* list() const { return reinterpret_cast<ListObj*>(obj_); }  // list or tuple
  DictObj* dict() const { return reinterpret_cast<DictObj*>(obj_); }
  NamespaceObj* ns() const { return reinterpret_cast<NamespaceObj*>(obj_); }
  CallableObj* callable() const { return reinterpret_cast<CallableObj*>(obj_); }
  LoopObj* loop() const { return reinterpret_cast<LoopObj*>(obj_); }
  const void* identity() const { return obj_; }

  // For undefined values: what an operation on it reports ("'x' is undefined").
  std::string UndefinedMessage() const;
  bool unsafe() const { return kind_ == Kind::kUndefined && flag_; }  // blocked by the sandbox

 private:
  Kind kind_ = Kind::kUndefined;
  bool flag_ = false;
  union {
    bool b_;
    int64_t i_;
    double d_;
    Object* obj_;
  };
  std::shared_ptr<const std::string> str_;  // string payload, or undefined message
};

struct CallArgs {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
};

using NativeFn = std::function<StatusOr<Value>(Interpreter&, CallArgs&)>;

// Containers record their size as a tree (shared sub-containers counted each time they
// appear), so a template cannot build a small DAG that prints or compares exponentially.
inline constexpr uint64_t kMaxTreeSize = uint64_t{1} << 22;

struct ListObj : Object {
  std::vector<Value> items;
  uint64_t tree_size = 1;
  void Recount();  // recomputes tree_size from items
};

// Insertion-ordered dict with Python key equality (1 == 1.0 == True are one key).
struct DictObj : Object {
  std::vector<std::pair<Value, Value>> entries;
  uint64_t tree_size = 1;

  const Value* Find(const Value& key) const;  // precondition: key hashable
  const Value* FindStr(std::string_view key) const;
  void Set(const Value& key, Value value);
  bool Erase(const Value& key);
  size_t size() const { return entries.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::unordered_map<std::string, size_t, Hash, std::equal_to<>> str_index_;
  void Reindex();
};

struct NamespaceObj : Object {
  DictObj attrs;
};

struct CallableObj : Object {
  std::string name;
  bool is_macro = false;
  NativeFn fn;
};

// The `loop` variable of one for loop.
struct LoopObj : Object {
  ListObj* items = nullptr;  // the (filtered) items iterated
  int64_t index0 = 0;
  int64_t depth0 = 0;
  bool has_changed_value = false;
  Value changed_value;
  CallableObj* recurse = nullptr;  // loop(...) in a recursive loop, else null
};

// Owns every container created during one render.
class Heap {
 public:
  template <typename T>
  T* New() {
    auto owned = std::make_unique<T>();
    T* raw = owned.get();
    objects_.push_back(std::move(owned));
    return raw;
  }
  Value NewList(std::vector<Value> items = {});
  Value NewTuple(std::vector<Value> items);
  Value NewDict();
  Value NewCallable(std::string name, NativeFn fn);

  // Records a container's tree size; oversized() turns true past kMaxTreeSize (the evaluator
  // then fails its next step).
  void NoteSize(uint64_t tree_size) { oversized_ = oversized_ || tree_size > kMaxTreeSize; }
  // Records a dict built outside NewDict's callers' view (size checks and item accounting).
  void NoteDict(const DictObj& d);
  bool oversized() const { return oversized_; }
  // List, tuple and dict elements allocated so far (they live until the render ends).
  uint64_t num_items() const { return num_items_; }

 private:
  std::vector<std::unique_ptr<Object>> objects_;
  bool oversized_ = false;
  uint64_t num_items_ = 0;
};

// Tree size of a value: lists, tuples and dicts count their elements recursively (saturating);
// everything else (namespaces included, which are never walked structurally) counts 1.
uint64_t TreeSize(const Value& v);

// ---- Python semantics ----
bool Truthy(const Value& v);
const char* TypeName(const Value& v);  // Python type name: 'int', 'str', 'dict', ...
bool IsHashable(const Value& v);
bool Equal(const Value& a, const Value& b);  // Python ==
// Python a < b; error for unorderable types ("'<' not supported between ...").
StatusOr<bool> Less(const Value& a, const Value& b, std::string_view op = "<");
// Python str() / repr() appended to *out. Nesting deeper than an internal limit prints "...".
void AppendStr(const Value& v, std::string* out);
void AppendRepr(const Value& v, std::string* out);
std::string ToStr(const Value& v);
std::string Repr(const Value& v);

}  // namespace pagellm::jinja
