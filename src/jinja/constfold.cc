// Constant-folding analysis mirroring jinja2's optimizer: which expressions it may evaluate at
// compile time (Expr.as_const) and which folded values it keeps (has_safe_repr).
#include <string_view>

#include "src/jinja/ast.h"

namespace pagellm::jinja {

namespace {

bool MarkExpr(Expr* e);

bool MarkAll(std::vector<ExprPtr>& v) {
  bool all = true;
  for (ExprPtr& x : v) all = MarkExpr(x.get()) && all;
  return all;
}

bool MarkArgs(ArgsExpr& a) {
  bool all = MarkAll(a.pos);
  for (auto& [k, x] : a.kw) all = MarkExpr(x.get()) && all;
  if (a.star) all = MarkExpr(a.star.get()) && false;
  if (a.star_star) all = MarkExpr(a.star_star.get()) && false;
  return all;
}

// Returns e->maybe_const after marking the subtree. Short-circuiting nodes (and, or, chained
// comparisons, conditional expressions) only need their first operand constant: jinja2 folds
// `false and x` even though x is a name. Evaluation in folding mode decides the rest.
bool MarkExpr(Expr* e) {
  if (e == nullptr) return true;
  bool c = false;
  switch (e->kind) {
    case ExprKind::kConst: c = true; break;
    case ExprKind::kName: c = false; break;
    case ExprKind::kCall: {
      auto* call = static_cast<CallExpr*>(e);
      MarkExpr(call->callee.get());
      MarkArgs(call->args);
      c = false;
      break;
    }
    case ExprKind::kList:
    case ExprKind::kTuple:
    case ExprKind::kConcat: c = MarkAll(static_cast<SeqExpr*>(e)->items); break;
    case ExprKind::kDict:
      c = true;
      for (auto& [k, v] : static_cast<DictExpr*>(e)->items) {
        c = MarkExpr(k.get()) && c;
        c = MarkExpr(v.get()) && c;
      }
      break;
    case ExprKind::kGetattr: c = MarkExpr(static_cast<GetattrExpr*>(e)->obj.get()); break;
    case ExprKind::kGetitem: {
      auto* g = static_cast<GetitemExpr*>(e);
      c = MarkExpr(g->obj.get());
      c = MarkExpr(g->key.get()) && c;
      break;
    }
    case ExprKind::kSlice: {
      auto* s = static_cast<SliceExpr*>(e);
      c = MarkExpr(s->start.get());
      c = MarkExpr(s->stop.get()) && c;
      c = MarkExpr(s->step.get()) && c;
      break;
    }
    case ExprKind::kFilter: {
      auto* f = static_cast<FilterExpr*>(e);
      c = f->operand != nullptr && MarkExpr(f->operand.get());
      c = MarkArgs(f->args) && c;
      // pass_context filters are never folded.
      static constexpr std::string_view kContextFilters[] = {"map", "select", "reject",
                                                             "selectattr", "rejectattr"};
      for (std::string_view name : kContextFilters) {
        if (f->name == name) c = false;
      }
      if (f->fn == nullptr) c = false;
      break;
    }
    case ExprKind::kTest: {
      auto* t = static_cast<TestExpr*>(e);
      c = MarkExpr(t->operand.get());
      c = MarkArgs(t->args) && c && t->fn != nullptr;
      break;
    }
    case ExprKind::kNeg:
    case ExprKind::kPos:
    case ExprKind::kNot: c = MarkExpr(static_cast<UnaryExpr*>(e)->operand.get()); break;
    case ExprKind::kBinary: {
      auto* b = static_cast<BinaryExpr*>(e);
      c = MarkExpr(b->left.get());
      c = MarkExpr(b->right.get()) && c;
      break;
    }
    case ExprKind::kAnd:
    case ExprKind::kOr: {
      auto* b = static_cast<BinaryExpr*>(e);
      c = MarkExpr(b->left.get());
      MarkExpr(b->right.get());
      break;
    }
    case ExprKind::kCompare: {
      auto* cmp = static_cast<CompareExpr*>(e);
      c = MarkExpr(cmp->first.get());
      for (auto& [op, x] : cmp->rest) MarkExpr(x.get());
      break;
    }
    case ExprKind::kCond: {
      auto* cond = static_cast<CondExpr*>(e);
      c = MarkExpr(cond->test.get());
      MarkExpr(cond->then.get());
      MarkExpr(cond->otherwise.get());
      break;
    }
  }
  e->maybe_const = c;
  return c;
}

void MarkBody(Body* body);

void MarkMacro(MacroDef* def) {
  MarkAll(def->defaults);
  MarkBody(&def->body);
}

void MarkStmt(Stmt* s) {
  switch (s->kind) {
    case StmtKind::kText:
    case StmtKind::kBreak:
    case StmtKind::kContinue: return;
    case StmtKind::kPrint: MarkExpr(static_cast<PrintStmt*>(s)->expr.get()); return;
    case StmtKind::kIf: {
      auto* n = static_cast<IfStmt*>(s);
      for (auto& [test, body] : n->branches) {
        MarkExpr(test.get());
        MarkBody(&body);
      }
      MarkBody(&n->else_body);
      return;
    }
    case StmtKind::kFor: {
      auto* n = static_cast<ForStmt*>(s);
      MarkExpr(n->iter.get());
      MarkExpr(n->filter.get());
      MarkBody(&n->body);
      MarkBody(&n->else_body);
      return;
    }
    case StmtKind::kSet: MarkExpr(static_cast<SetStmt*>(s)->value.get()); return;
    case StmtKind::kSetBlock: {
      auto* n = static_cast<SetBlockStmt*>(s);
      MarkExpr(n->filter.get());
      MarkBody(&n->body);
      return;
    }
    case StmtKind::kMacro: MarkMacro(&static_cast<MacroStmt*>(s)->def); return;
    case StmtKind::kCallBlock: {
      auto* n = static_cast<CallBlockStmt*>(s);
      MarkExpr(n->call.get());
      MarkMacro(&n->caller);
      return;
    }
    case StmtKind::kFilterBlock: {
      auto* n = static_cast<FilterBlockStmt*>(s);
      MarkExpr(n->filter.get());
      MarkBody(&n->body);
      return;
    }
    case StmtKind::kWith: {
      auto* n = static_cast<WithStmt*>(s);
      for (auto& [target, value] : n->assignments) MarkExpr(value.get());
      MarkBody(&n->body);
      return;
    }
    case StmtKind::kScope: MarkBody(&static_cast<ScopeStmt*>(s)->body); return;
  }
}

void MarkBody(Body* body) {
  for (StmtPtr& s : *body) MarkStmt(s.get());
}

}  // namespace

void MarkConstants(Body* body) { MarkBody(body); }

bool HasSafeRepr(const Value& v) {
  switch (v.kind()) {
    case Kind::kNone:
    case Kind::kBool:
    case Kind::kInt:
    case Kind::kFloat:
    case Kind::kString: return true;
    case Kind::kList:
    case Kind::kTuple:
      for (const Value& x : v.list()->items) {
        if (!HasSafeRepr(x)) return false;
      }
      return true;
    case Kind::kDict:
      for (const auto& [k, x] : v.dict()->entries) {
        if (!HasSafeRepr(k) || !HasSafeRepr(x)) return false;
      }
      return true;
    default: return false;
  }
}

}  // namespace pagellm::jinja
