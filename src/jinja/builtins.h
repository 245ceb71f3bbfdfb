// Built-in filters, tests, methods (str / list / dict / loop) and globals of the Jinja runtime,
// plus the Python operator semantics the evaluator uses.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "src/base/status.h"
#include "src/jinja/ast.h"
#include "src/jinja/interpreter.h"
#include "src/jinja/value.h"

namespace pagellm::jinja {

// Lookup by name; null if Jinja2 (as configured by HF) has no such filter / test.
FilterFn FindFilter(std::string_view name);
TestFn FindTest(std::string_view name);

// ---- methods (methods.cc) ----
enum class MethodSafety : uint8_t { kNone, kSafe, kMutating };
// Whether `obj` (str, list, tuple, dict, loop) has a Python method `name`, and whether calling it
// mutates the receiver (blocked by the immutable sandbox).
MethodSafety FindMethod(const Value& obj, std::string_view name);
StatusOr<Value> CallMethod(Interpreter& in, const Value& obj, std::string_view name,
                           CallArgs& args);
// The value of a loop attribute (index, first, ...), or undefined.
Value LoopAttribute(Interpreter& in, const Value& loop, std::string_view name);

// ---- globals (globals.cc) ----
// Adds range, dict, namespace, raise_exception, strftime_now, cycler, joiner to `scope`.
void AddGlobals(Heap& heap, Scope* scope);

// ---- operators (operators.cc) ----
StatusOr<Value> BinaryOp(Interpreter& in, BinOp op, const Value& a, const Value& b);
StatusOr<Value> Negate(const Value& v, bool minus);
StatusOr<bool> CompareOp(CmpOp op, const Value& a, const Value& b);
StatusOr<bool> Contains(const Value& container, const Value& item);
// Python slicing of a list, tuple or str with optional bounds.
StatusOr<Value> SliceValue(Interpreter& in, const Value& obj, std::optional<int64_t> start,
                           std::optional<int64_t> stop, std::optional<int64_t> step);
// Python's str % args; `escape` HTML-escapes string arguments (Markup % args).
StatusOr<std::string> PercentFormat(Interpreter& in, std::string_view fmt, const Value& args,
                                    bool escape = false);

// ---- argument binding ----
// Binds positional and keyword arguments to `names` like a Python signature (no *args); the
// result has one entry per name, nullopt where not given. Errors name the function.
StatusOr<std::vector<std::optional<Value>>> BindArgs(std::string_view fn, const CallArgs& args,
                                                    std::initializer_list<std::string_view> names);
// Integer argument (int or bool); error "fn: 'name' must be an integer".
StatusOr<int64_t> IntArg(std::string_view fn, std::string_view name, const Value& v);

}  // namespace pagellm::jinja
