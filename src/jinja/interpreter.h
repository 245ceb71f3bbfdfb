// Jinja evaluator: executes a parsed template body against scopes of Values, with Jinja2's
// scoping, Undefined and sandbox semantics, and hard limits on work, output and recursion.
//
// One Interpreter renders once; it is not thread-safe, but any number may run concurrently on
// the same (immutable) syntax tree.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/status.h"
#include "src/jinja/ast.h"
#include "src/jinja/value.h"

namespace pagellm::jinja {

struct RenderLimits {
  size_t max_output_bytes = size_t{16} << 20;  // also the largest string a template may build
  // Evaluation steps: one per node evaluated and loop iteration, one per element copied, one
  // per 16 bytes of strings built (64 of output), so work and memory stay bounded.
  uint64_t max_steps = 10'000'000;
  uint64_t max_heap_items = 2'000'000;         // list/tuple/dict elements alive in one render
  int max_call_depth = 64;                     // nested macro calls (and recursive loops)
  int max_eval_depth = 1000;                   // nested statement/expression evaluation
};

struct RenderOptions {
  RenderLimits limits;
  // HF renders with jinja2's ImmutableSandboxedEnvironment: list.append, dict.update, ... are
  // SecurityErrors. Set false to allow in-place mutation of lists and dicts.
  bool immutable_sandbox = true;
  // Clock for strftime_now (local time zone); null = the system clock.
  std::function<std::chrono::system_clock::time_point()> now;
};

// A variable scope: a for-loop iteration, a macro call, a block, the template, the globals.
struct Scope : Object {
  Scope* parent = nullptr;
  std::vector<std::pair<std::string, Value>> vars;
  const Value* Lookup(std::string_view name) const;
  void Set(std::string_view name, Value value);
};

class Interpreter {
 public:
  Interpreter(const RenderOptions& options, Heap* heap);

  // Renders `body`; `scope` is the template's own scope (its parents hold context and globals).
  StatusOr<std::string> Render(const Body& body, Scope* scope);

  // ---- services for builtins ----
  Heap& heap() { return *heap_; }
  const RenderOptions& options() const { return options_; }
  // Counts evaluation work; fails once the step limit is exceeded.
  Status Charge(uint64_t steps);
  // Accounts for building a string of `bytes` bytes (size limit + proportional steps).
  Status ChargeBytes(size_t bytes);
  StatusOr<Value> CallValue(const Value& fn, CallArgs& args);
  StatusOr<Value> GetAttr(const Value& obj, std::string_view name);
  StatusOr<Value> GetItem(const Value& obj, const Value& key);
  // list(v): the items iteration yields (dict keys, string characters, nothing for undefined).
  StatusOr<std::vector<Value>> Iterate(const Value& v);
  StatusOr<Value> ApplyFilter(std::string_view name, const Value& v, CallArgs& args);
  StatusOr<bool> ApplyTest(std::string_view name, const Value& v, CallArgs& args);
  // Renders `body` in a child scope of `scope` into a string (macros, blocks, call blocks).
  StatusOr<std::string> Capture(const Body& body, Scope* scope);
  Scope* NewScope(Scope* parent);
  Status BindTarget(const Target& target, const Value& value, Scope* scope);

 private:
  enum class Flow : uint8_t { kNormal, kBreak, kContinue };

  Status Exec(const Stmt& s, Scope* scope);
  Status ExecBody(const Body& body, Scope* scope);
  Status ExecFor(const ForStmt& f, Scope* scope);
  // Runs the loop body over `iterable` (a list/tuple is iterated in place, anything else is
  // materialized first).
  Status RunLoop(const ForStmt& f, Scope* outer, const Value& iterable, int64_t depth0);
  Status ExecCallBlock(const CallBlockStmt& c, Scope* scope);
  Status Emit(std::string_view text);
  Status EmitValue(const Value& v);

  StatusOr<Value> Eval(const Expr& e, Scope* scope);
  StatusOr<Value> EvalImpl(const Expr& e, Scope* scope);
  StatusOr<Value> Fold(const Expr& e, Scope* scope);  // EvalImpl in folding mode
  StatusOr<Value> EvalCall(const CallExpr& c, Scope* scope, const Value* caller);
  StatusOr<Value> EvalGetitem(const GetitemExpr& g, Scope* scope);
  StatusOr<Value> EvalFilter(const FilterExpr& f, Scope* scope);
  StatusOr<Value> EvalCompare(const CompareExpr& c, Scope* scope);
  Status EvalArgs(const ArgsExpr& a, Scope* scope, CallArgs* out);
  Value MakeMacro(const MacroDef& def, Scope* closure);
  StatusOr<Value> CallMacro(const MacroDef& def, Scope* closure, CallArgs& args);
  Status Annotate(Status s, int line);
  // Fails when the evaluation nests past max_eval_depth or when the thread's stack is close to
  // exhausted (whichever comes first), so deep templates never overflow the stack.
  Status CheckDepth() const;

  const RenderOptions& options_;
  Heap* heap_;
  std::string* out_ = nullptr;
  Flow flow_ = Flow::kNormal;
  uint64_t steps_ = 0;
  int eval_depth_ = 0;
  const char* stack_floor_ = nullptr;  // lowest frame address allowed (stack grows down)
  int call_depth_ = 0;
  bool annotated_ = false;
  const Value* filter_input_ = nullptr;  // operand for the null innermost filter of a block
  // Evaluating like jinja2's compile-time constant folding (Expr.as_const): names and calls
  // fail with kNotConstant, and slicing a non-sequence gives undefined instead of an error.
  bool folding_ = false;
};

// Runtime error helpers shared by the evaluator and builtins.
inline Status TypeError(std::string_view msg) { return InvalidArgument(msg); }
Status UndefinedError(const Value& undefined);

}  // namespace pagellm::jinja
