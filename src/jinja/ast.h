// Jinja syntax tree: expression and statement nodes produced by the parser. Immutable after
// parsing, so one parsed template can be rendered from many threads at once.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "src/jinja/value.h"

namespace pagellm::jinja {

using FilterFn = StatusOr<Value> (*)(Interpreter&, const Value&, CallArgs&);
using TestFn = StatusOr<bool> (*)(Interpreter&, const Value&, CallArgs&);

// ---------------------------------------------------------------- expressions

enum class ExprKind : uint8_t {
  kConst,
  kName,
  kList,
  kTuple,
  kDict,
  kGetattr,
  kGetitem,
  kSlice,
  kCall,
  kFilter,
  kTest,
  kNeg,
  kPos,
  kNot,
  kBinary,
  kAnd,
  kOr,
  kConcat,
  kCompare,
  kCond,
};

enum class BinOp : uint8_t { kAdd, kSub, kMul, kDiv, kFloorDiv, kMod, kPow };
enum class CmpOp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn };

struct Expr {
  Expr(ExprKind k, int l) : kind(k), line(l) {}
  virtual ~Expr() = default;
  ExprKind kind;
  int line;
  // Jinja2's optimizer may evaluate this at compile time (no names or calls on the paths it
  // evaluates); set by MarkConstants. See Interpreter::Eval.
  bool maybe_const = false;
  int depth = 1;  // height of this subtree (the parser bounds it)
};
using ExprPtr = std::unique_ptr<Expr>;

struct ConstExpr : Expr {  // kConst: none, bool, int, float, str
  ConstExpr(Value v, int l) : Expr(ExprKind::kConst, l), value(std::move(v)) {}
  Value value;
};

struct NameExpr : Expr {  // kName
  NameExpr(std::string n, int l) : Expr(ExprKind::kName, l), name(std::move(n)) {}
  std::string name;
};

struct SeqExpr : Expr {  // kList, kTuple, kConcat
  using Expr::Expr;
  std::vector<ExprPtr> items;
};

struct DictExpr : Expr {  // kDict
  explicit DictExpr(int l) : Expr(ExprKind::kDict, l) {}
  std::vector<std::pair<ExprPtr, ExprPtr>> items;
};

struct GetattrExpr : Expr {  // kGetattr: obj.attr
  GetattrExpr(ExprPtr o, std::string a, int l)
      : Expr(ExprKind::kGetattr, l), obj(std::move(o)), attr(std::move(a)) {}
  ExprPtr obj;
  std::string attr;
};

struct GetitemExpr : Expr {  // kGetitem: obj[key] (key may be a SliceExpr)
  GetitemExpr(ExprPtr o, ExprPtr k, int l)
      : Expr(ExprKind::kGetitem, l), obj(std::move(o)), key(std::move(k)) {}
  ExprPtr obj, key;
};

struct SliceExpr : Expr {  // kSlice: start:stop:step, each may be null
  explicit SliceExpr(int l) : Expr(ExprKind::kSlice, l) {}
  ExprPtr start, stop, step;
};

struct ArgsExpr {
  std::vector<ExprPtr> pos;
  std::vector<std::pair<std::string, ExprPtr>> kw;
  ExprPtr star;      // *args
  ExprPtr star_star; // **kwargs
};

struct CallExpr : Expr {  // kCall
  CallExpr(ExprPtr c, int l) : Expr(ExprKind::kCall, l), callee(std::move(c)) {}
  ExprPtr callee;
  ArgsExpr args;
};

struct FilterExpr : Expr {  // kFilter: operand|name(args); operand is null in filter blocks
  FilterExpr(ExprPtr o, std::string n, int l)
      : Expr(ExprKind::kFilter, l), operand(std::move(o)), name(std::move(n)) {}
  ExprPtr operand;
  std::string name;
  FilterFn fn = nullptr;  // null: unknown filter, an error when evaluated (as in Jinja2)
  ArgsExpr args;
};

struct TestExpr : Expr {  // kTest: operand is name(args); "is not" wraps it in kNot
  TestExpr(ExprPtr o, std::string n, int l)
      : Expr(ExprKind::kTest, l), operand(std::move(o)), name(std::move(n)) {}
  ExprPtr operand;
  std::string name;
  TestFn fn = nullptr;
  ArgsExpr args;
};

struct UnaryExpr : Expr {  // kNeg, kPos, kNot
  UnaryExpr(ExprKind k, ExprPtr o, int l) : Expr(k, l), operand(std::move(o)) {}
  ExprPtr operand;
};

struct BinaryExpr : Expr {  // kBinary (op), kAnd, kOr
  BinaryExpr(ExprKind k, BinOp o, ExprPtr a, ExprPtr b, int l)
      : Expr(k, l), op(o), left(std::move(a)), right(std::move(b)) {}
  BinOp op;
  ExprPtr left, right;
};

struct CompareExpr : Expr {  // kCompare: first op1 x1 op2 x2 ... (chained)
  CompareExpr(ExprPtr f, int l) : Expr(ExprKind::kCompare, l), first(std::move(f)) {}
  ExprPtr first;
  std::vector<std::pair<CmpOp, ExprPtr>> rest;
};

struct CondExpr : Expr {  // kCond: then if test else otherwise (otherwise may be null)
  explicit CondExpr(int l) : Expr(ExprKind::kCond, l) {}
  ExprPtr test, then, otherwise;
};

// ---------------------------------------------------------------- statements

enum class StmtKind : uint8_t {
  kText,
  kPrint,
  kIf,
  kFor,
  kSet,
  kSetBlock,
  kMacro,
  kCallBlock,
  kFilterBlock,
  kWith,
  kScope,  // {% generation %}: the body in its own scope
  kBreak,
  kContinue,
};

struct Stmt {
  Stmt(StmtKind k, int l) : kind(k), line(l) {}
  virtual ~Stmt() = default;
  StmtKind kind;
  int line;
};
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// Assignment target: a name, a (nested) tuple of names, or namespace.attr.
struct Target {
  enum class Type : uint8_t { kName, kTuple, kNsAttr };
  Type type = Type::kName;
  std::string name;  // kName, kNsAttr (the namespace variable)
  std::string attr;  // kNsAttr
  std::vector<Target> items;  // kTuple
};

struct TextStmt : Stmt {
  TextStmt(std::string t, int l) : Stmt(StmtKind::kText, l), text(std::move(t)) {}
  std::string text;
};

struct PrintStmt : Stmt {
  PrintStmt(ExprPtr e, int l) : Stmt(StmtKind::kPrint, l), expr(std::move(e)) {}
  ExprPtr expr;
};

struct IfStmt : Stmt {
  explicit IfStmt(int l) : Stmt(StmtKind::kIf, l) {}
  std::vector<std::pair<ExprPtr, Body>> branches;  // if, elif...
  Body else_body;
};

struct ForStmt : Stmt {
  explicit ForStmt(int l) : Stmt(StmtKind::kFor, l) {}
  Target target;
  ExprPtr iter;
  ExprPtr filter;  // for x in y if filter
  Body body, else_body;
  bool recursive = false;
};

struct SetStmt : Stmt {
  SetStmt(Target t, ExprPtr v, int l) : Stmt(StmtKind::kSet, l), target(std::move(t)), value(std::move(v)) {}
  Target target;
  ExprPtr value;
};

struct SetBlockStmt : Stmt {  // {% set x | filters %}body{% endset %}
  explicit SetBlockStmt(int l) : Stmt(StmtKind::kSetBlock, l) {}
  Target target;
  ExprPtr filter;  // FilterExpr chain whose innermost operand is null; may be null
  Body body;
};

// A macro or the caller of a call block.
struct MacroDef {
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // for the last defaults.size() params
  Body body;
  bool uses_caller = false, uses_varargs = false, uses_kwargs = false;
};

struct MacroStmt : Stmt {
  explicit MacroStmt(int l) : Stmt(StmtKind::kMacro, l) {}
  MacroDef def;
};

struct CallBlockStmt : Stmt {  // {% call(params) macro(args) %}caller body{% endcall %}
  explicit CallBlockStmt(int l) : Stmt(StmtKind::kCallBlock, l) {}
  ExprPtr call;  // a CallExpr
  MacroDef caller;
};

struct FilterBlockStmt : Stmt {
  explicit FilterBlockStmt(int l) : Stmt(StmtKind::kFilterBlock, l) {}
  ExprPtr filter;  // FilterExpr chain whose innermost operand is null
  Body body;
};

struct WithStmt : Stmt {
  explicit WithStmt(int l) : Stmt(StmtKind::kWith, l) {}
  std::vector<std::pair<Target, ExprPtr>> assignments;
  Body body;
};

struct ScopeStmt : Stmt {
  explicit ScopeStmt(int l) : Stmt(StmtKind::kScope, l) {}
  Body body;
};

struct LoopControlStmt : Stmt {  // kBreak, kContinue
  using Stmt::Stmt;
};

// Sets Expr::maybe_const on every expression of `body` (called once by the parser).
void MarkConstants(Body* body);

// jinja2.utils... has_safe_repr: whether the optimizer may embed a folded value (None, bool,
// numbers, strings, and lists/tuples/dicts of those; not Undefined or callables).
bool HasSafeRepr(const Value& v);

}  // namespace pagellm::jinja
