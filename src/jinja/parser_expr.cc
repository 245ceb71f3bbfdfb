// Jinja parser, expressions: Jinja2's precedence ladder (condexpr < or < and < not < compare <
// + - < ~ < * / // % < ** < unary < postfix/filters/tests) and literals.
#include <algorithm>

#include "src/jinja/builtins.h"
#include "src/jinja/parser.h"

namespace pagellm::jinja::internal {

namespace {
// RAII decrement of the nesting counter after a successful Enter().
struct DepthExit {
  int* depth;
  ~DepthExit() { --*depth; }
};
}  // namespace

namespace {
int DepthOf(const ExprPtr& e) { return e ? e->depth : 0; }
int DepthOfArgs(const ArgsExpr& a) {
  int d = std::max(DepthOf(a.star), DepthOf(a.star_star));
  for (const ExprPtr& x : a.pos) d = std::max(d, DepthOf(x));
  for (const auto& [k, x] : a.kw) d = std::max(d, DepthOf(x));
  return d;
}
int ChildDepth(const Expr& e) {
  int d = 0;
  switch (e.kind) {
    case ExprKind::kConst:
    case ExprKind::kName: return 0;
    case ExprKind::kList:
    case ExprKind::kTuple:
    case ExprKind::kConcat:
      for (const ExprPtr& x : static_cast<const SeqExpr&>(e).items) d = std::max(d, DepthOf(x));
      return d;
    case ExprKind::kDict:
      for (const auto& [k, v] : static_cast<const DictExpr&>(e).items) d = std::max({d, DepthOf(k), DepthOf(v)});
      return d;
    case ExprKind::kGetattr: return DepthOf(static_cast<const GetattrExpr&>(e).obj);
    case ExprKind::kGetitem: {
      const auto& g = static_cast<const GetitemExpr&>(e);
      return std::max(DepthOf(g.obj), DepthOf(g.key));
    }
    case ExprKind::kSlice: {
      const auto& s = static_cast<const SliceExpr&>(e);
      return std::max({DepthOf(s.start), DepthOf(s.stop), DepthOf(s.step)});
    }
    case ExprKind::kCall: {
      const auto& c = static_cast<const CallExpr&>(e);
      return std::max(DepthOf(c.callee), DepthOfArgs(c.args));
    }
    case ExprKind::kFilter: {
      const auto& f = static_cast<const FilterExpr&>(e);
      return std::max(DepthOf(f.operand), DepthOfArgs(f.args));
    }
    case ExprKind::kTest: {
      const auto& t = static_cast<const TestExpr&>(e);
      return std::max(DepthOf(t.operand), DepthOfArgs(t.args));
    }
    case ExprKind::kNeg:
    case ExprKind::kPos:
    case ExprKind::kNot: return DepthOf(static_cast<const UnaryExpr&>(e).operand);
    case ExprKind::kBinary:
    case ExprKind::kAnd:
    case ExprKind::kOr: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      return std::max(DepthOf(b.left), DepthOf(b.right));
    }
    case ExprKind::kCompare: {
      const auto& c = static_cast<const CompareExpr&>(e);
      d = DepthOf(c.first);
      for (const auto& [op, x] : c.rest) d = std::max(d, DepthOf(x));
      return d;
    }
    case ExprKind::kCond: {
      const auto& c = static_cast<const CondExpr&>(e);
      return std::max({DepthOf(c.test), DepthOf(c.then), DepthOf(c.otherwise)});
    }
  }
  return d;
}
}  // namespace

// Sets e->depth from its children; long operator chains (a + b + c ..., x|f|g ...) grow the
// tree without recursion in the parser, so depth is checked here as nodes are built.
Status Parser::Deepen(Expr* e) {
  e->depth = 1 + ChildDepth(*e);
  if (e->depth > options_.max_nesting) {
    return Fail(StrCat("expression nesting exceeds the limit of ", options_.max_nesting, " levels"));
  }
  return absl::OkStatus();
}

bool Parser::IsTupleEnd(const std::vector<std::string_view>& extra_end) const {
  const Tok t = cur().type;
  if (t == Tok::kVarEnd || t == Tok::kBlockEnd || t == Tok::kRParen) return true;
  if (t == Tok::kName) {
    return std::find(extra_end.begin(), extra_end.end(), cur().text) != extra_end.end();
  }
  return false;
}

StatusOr<ExprPtr> Parser::ParseTuple(bool with_condexpr,
                                     const std::vector<std::string_view>& extra_end,
                                     bool explicit_parentheses) {
  const int line = cur().line;
  std::vector<ExprPtr> args;
  bool is_tuple = false;
  while (true) {
    if (!args.empty()) RETURN_IF_ERROR(Expect(Tok::kComma));
    if (IsTupleEnd(extra_end)) break;
    ASSIGN_OR_RETURN(ExprPtr e, ParseExpression(with_condexpr));
    args.push_back(std::move(e));
    if (cur().type == Tok::kComma) {
      is_tuple = true;
    } else {
      break;
    }
  }
  if (!is_tuple) {
    if (!args.empty()) return std::move(args[0]);
    if (!explicit_parentheses) {
      return Fail(StrCat("Expected an expression, got ", DescribeTok(cur().type)));
    }
  }
  auto t = std::make_unique<SeqExpr>(ExprKind::kTuple, line);
  t->items = std::move(args);
  RETURN_IF_ERROR(Deepen(t.get()));
  return ExprPtr(std::move(t));
}

StatusOr<ExprPtr> Parser::ParseExpression(bool with_condexpr) {
  RETURN_IF_ERROR(Enter());
  DepthExit exit{&depth_};
  return with_condexpr ? ParseCondExpr() : ParseOr();
}

StatusOr<ExprPtr> Parser::ParseCondExpr() {
  int line = cur().line;
  ASSIGN_OR_RETURN(ExprPtr expr1, ParseOr());
  while (SkipIfName("if")) {
    auto node = std::make_unique<CondExpr>(line);
    ASSIGN_OR_RETURN(node->test, ParseOr());
    if (SkipIfName("else")) {
      RETURN_IF_ERROR(Enter());
      DepthExit exit{&depth_};
      ASSIGN_OR_RETURN(node->otherwise, ParseCondExpr());
    }
    node->then = std::move(expr1);
    RETURN_IF_ERROR(Deepen(node.get()));
    expr1 = std::move(node);
    line = cur().line;
  }
  return expr1;
}

StatusOr<ExprPtr> Parser::ParseOr() {
  ASSIGN_OR_RETURN(ExprPtr left, ParseAnd());
  while (IsName("or")) {
    const int line = cur().line;
    Next();
    ASSIGN_OR_RETURN(ExprPtr right, ParseAnd());
    left = std::make_unique<BinaryExpr>(ExprKind::kOr, BinOp::kAdd, std::move(left), std::move(right), line);
    RETURN_IF_ERROR(Deepen(left.get()));
  }
  return left;
}

StatusOr<ExprPtr> Parser::ParseAnd() {
  ASSIGN_OR_RETURN(ExprPtr left, ParseNot());
  while (IsName("and")) {
    const int line = cur().line;
    Next();
    ASSIGN_OR_RETURN(ExprPtr right, ParseNot());
    left = std::make_unique<BinaryExpr>(ExprKind::kAnd, BinOp::kAdd, std::move(left), std::move(right), line);
    RETURN_IF_ERROR(Deepen(left.get()));
  }
  return left;
}

StatusOr<ExprPtr> Parser::ParseNot() {
  if (IsName("not")) {
    const int line = cur().line;
    Next();
    RETURN_IF_ERROR(Enter());
    DepthExit exit{&depth_};
    ASSIGN_OR_RETURN(ExprPtr operand, ParseNot());
    ExprPtr node = std::make_unique<UnaryExpr>(ExprKind::kNot, std::move(operand), line);
    RETURN_IF_ERROR(Deepen(node.get()));
    return node;
  }
  return ParseCompare();
}

StatusOr<ExprPtr> Parser::ParseCompare() {
  const int line = cur().line;
  ASSIGN_OR_RETURN(ExprPtr expr, ParseMath1());
  std::unique_ptr<CompareExpr> cmp;
  while (true) {
    CmpOp op;
    const Tok t = cur().type;
    if (t == Tok::kEq) {
      op = CmpOp::kEq;
    } else if (t == Tok::kNe) {
      op = CmpOp::kNe;
    } else if (t == Tok::kLt) {
      op = CmpOp::kLt;
    } else if (t == Tok::kLtEq) {
      op = CmpOp::kLe;
    } else if (t == Tok::kGt) {
      op = CmpOp::kGt;
    } else if (t == Tok::kGtEq) {
      op = CmpOp::kGe;
    } else if (IsName("in")) {
      op = CmpOp::kIn;
    } else if (IsName("not") && Look().type == Tok::kName && Look().text == "in") {
      op = CmpOp::kNotIn;
      Next();
    } else {
      break;
    }
    Next();
    ASSIGN_OR_RETURN(ExprPtr rhs, ParseMath1());
    if (!cmp) cmp = std::make_unique<CompareExpr>(std::move(expr), line);
    cmp->rest.emplace_back(op, std::move(rhs));
  }
  if (!cmp) return expr;
  RETURN_IF_ERROR(Deepen(cmp.get()));
  return ExprPtr(std::move(cmp));
}

StatusOr<ExprPtr> Parser::ParseMath1() {
  ASSIGN_OR_RETURN(ExprPtr left, ParseConcat());
  while (cur().type == Tok::kAdd || cur().type == Tok::kSub) {
    const BinOp op = cur().type == Tok::kAdd ? BinOp::kAdd : BinOp::kSub;
    const int line = cur().line;
    Next();
    ASSIGN_OR_RETURN(ExprPtr right, ParseConcat());
    left = std::make_unique<BinaryExpr>(ExprKind::kBinary, op, std::move(left), std::move(right), line);
    RETURN_IF_ERROR(Deepen(left.get()));
  }
  return left;
}

StatusOr<ExprPtr> Parser::ParseConcat() {
  const int line = cur().line;
  ASSIGN_OR_RETURN(ExprPtr first, ParseMath2());
  if (cur().type != Tok::kTilde) return first;
  auto node = std::make_unique<SeqExpr>(ExprKind::kConcat, line);
  node->items.push_back(std::move(first));
  while (SkipIf(Tok::kTilde)) {
    ASSIGN_OR_RETURN(ExprPtr e, ParseMath2());
    node->items.push_back(std::move(e));
  }
  RETURN_IF_ERROR(Deepen(node.get()));
  return ExprPtr(std::move(node));
}

StatusOr<ExprPtr> Parser::ParseMath2() {
  ASSIGN_OR_RETURN(ExprPtr left, ParsePow());
  while (true) {
    BinOp op;
    switch (cur().type) {
      case Tok::kMul: op = BinOp::kMul; break;
      case Tok::kDiv: op = BinOp::kDiv; break;
      case Tok::kFloorDiv: op = BinOp::kFloorDiv; break;
      case Tok::kMod: op = BinOp::kMod; break;
      default: return left;
    }
    const int line = cur().line;
    Next();
    ASSIGN_OR_RETURN(ExprPtr right, ParsePow());
    left = std::make_unique<BinaryExpr>(ExprKind::kBinary, op, std::move(left), std::move(right), line);
    RETURN_IF_ERROR(Deepen(left.get()));
  }
}

StatusOr<ExprPtr> Parser::ParsePow() {
  ASSIGN_OR_RETURN(ExprPtr left, ParseUnary(true));
  while (cur().type == Tok::kPow) {  // left-associative in Jinja2
    const int line = cur().line;
    Next();
    ASSIGN_OR_RETURN(ExprPtr right, ParseUnary(true));
    left = std::make_unique<BinaryExpr>(ExprKind::kBinary, BinOp::kPow, std::move(left), std::move(right), line);
    RETURN_IF_ERROR(Deepen(left.get()));
  }
  return left;
}

StatusOr<ExprPtr> Parser::ParseUnary(bool with_filter) {
  RETURN_IF_ERROR(Enter());
  DepthExit exit{&depth_};
  const int line = cur().line;
  ExprPtr node;
  if (cur().type == Tok::kSub || cur().type == Tok::kAdd) {
    const ExprKind k = cur().type == Tok::kSub ? ExprKind::kNeg : ExprKind::kPos;
    Next();
    ASSIGN_OR_RETURN(ExprPtr operand, ParseUnary(false));
    node = std::make_unique<UnaryExpr>(k, std::move(operand), line);
    RETURN_IF_ERROR(Deepen(node.get()));
  } else {
    ASSIGN_OR_RETURN(node, ParsePrimary());
  }
  ASSIGN_OR_RETURN(node, ParsePostfix(std::move(node)));
  if (with_filter) {
    ASSIGN_OR_RETURN(node, ParseFilterExpr(std::move(node)));
  }
  return node;
}

StatusOr<ExprPtr> Parser::ParsePrimary() {
  const Token& t = cur();
  const int line = t.line;
  switch (t.type) {
    case Tok::kName: {
      ExprPtr node;
      if (t.text == "true" || t.text == "True") {
        node = std::make_unique<ConstExpr>(Value::Bool(true), line);
      } else if (t.text == "false" || t.text == "False") {
        node = std::make_unique<ConstExpr>(Value::Bool(false), line);
      } else if (t.text == "none" || t.text == "None") {
        node = std::make_unique<ConstExpr>(Value::None(), line);
      } else {
        NoteName(t.text);
        node = std::make_unique<NameExpr>(t.text, line);
      }
      Next();
      return node;
    }
    case Tok::kString: {
      std::string s = t.text;
      Next();
      while (cur().type == Tok::kString) {  // adjacent literals concatenate
        s += cur().text;
        Next();
      }
      return ExprPtr(std::make_unique<ConstExpr>(Value::Str(std::move(s)), line));
    }
    case Tok::kInteger: {
      auto node = std::make_unique<ConstExpr>(Value::Int(t.int_value), line);
      Next();
      return ExprPtr(std::move(node));
    }
    case Tok::kFloat: {
      auto node = std::make_unique<ConstExpr>(Value::Float(t.float_value), line);
      Next();
      return ExprPtr(std::move(node));
    }
    case Tok::kLParen: {
      Next();
      ASSIGN_OR_RETURN(ExprPtr node, ParseTuple(true, {}, true));
      RETURN_IF_ERROR(Expect(Tok::kRParen));
      return node;
    }
    case Tok::kLBracket: return ParseList();
    case Tok::kLBrace: return ParseDict();
    case Tok::kEof: return Fail("unexpected end of template");
    default: return Fail(StrCat("unexpected ", DescribeTok(t.type)));
  }
}

StatusOr<ExprPtr> Parser::ParseList() {
  auto node = std::make_unique<SeqExpr>(ExprKind::kList, cur().line);
  RETURN_IF_ERROR(Expect(Tok::kLBracket));
  while (cur().type != Tok::kRBracket) {
    if (!node->items.empty()) RETURN_IF_ERROR(Expect(Tok::kComma));
    if (cur().type == Tok::kRBracket) break;
    ASSIGN_OR_RETURN(ExprPtr e, ParseExpression());
    node->items.push_back(std::move(e));
  }
  RETURN_IF_ERROR(Expect(Tok::kRBracket));
  RETURN_IF_ERROR(Deepen(node.get()));
  return ExprPtr(std::move(node));
}

StatusOr<ExprPtr> Parser::ParseDict() {
  auto node = std::make_unique<DictExpr>(cur().line);
  RETURN_IF_ERROR(Expect(Tok::kLBrace));
  while (cur().type != Tok::kRBrace) {
    if (!node->items.empty()) RETURN_IF_ERROR(Expect(Tok::kComma));
    if (cur().type == Tok::kRBrace) break;
    ASSIGN_OR_RETURN(ExprPtr key, ParseExpression());
    RETURN_IF_ERROR(Expect(Tok::kColon));
    ASSIGN_OR_RETURN(ExprPtr value, ParseExpression());
    node->items.emplace_back(std::move(key), std::move(value));
  }
  RETURN_IF_ERROR(Expect(Tok::kRBrace));
  RETURN_IF_ERROR(Deepen(node.get()));
  return ExprPtr(std::move(node));
}

StatusOr<ExprPtr> Parser::ParsePostfix(ExprPtr node) {
  while (true) {
    if (cur().type == Tok::kDot || cur().type == Tok::kLBracket) {
      ASSIGN_OR_RETURN(node, ParseSubscript(std::move(node)));
    } else if (cur().type == Tok::kLParen) {
      ASSIGN_OR_RETURN(node, ParseCall(std::move(node)));
    } else {
      return node;
    }
  }
}

StatusOr<ExprPtr> Parser::ParseFilterExpr(ExprPtr node) {
  while (true) {
    if (cur().type == Tok::kPipe) {
      ASSIGN_OR_RETURN(node, ParseFilter(std::move(node), false));
    } else if (IsName("is")) {
      ASSIGN_OR_RETURN(node, ParseTest(std::move(node)));
    } else if (cur().type == Tok::kLParen) {
      ASSIGN_OR_RETURN(node, ParseCall(std::move(node)));
    } else {
      return node;
    }
  }
}

StatusOr<ExprPtr> Parser::ParseSubscript(ExprPtr node) {
  const Token tok = cur();
  Next();
  if (tok.type == Tok::kDot) {
    const Token attr = cur();
    Next();
    ExprPtr out;
    if (attr.type == Tok::kName) {
      out = std::make_unique<GetattrExpr>(std::move(node), attr.text, tok.line);
    } else if (attr.type == Tok::kInteger) {
      auto key = std::make_unique<ConstExpr>(Value::Int(attr.int_value), attr.line);
      out = std::make_unique<GetitemExpr>(std::move(node), std::move(key), tok.line);
    } else {
      return FailAt(attr, "expected name or number");
    }
    RETURN_IF_ERROR(Deepen(out.get()));
    return out;
  }
  std::vector<ExprPtr> args;
  while (cur().type != Tok::kRBracket) {
    if (!args.empty()) RETURN_IF_ERROR(Expect(Tok::kComma));
    ASSIGN_OR_RETURN(ExprPtr a, ParseSubscribed());
    args.push_back(std::move(a));
  }
  RETURN_IF_ERROR(Expect(Tok::kRBracket));
  ExprPtr key;
  if (args.size() == 1) {
    key = std::move(args[0]);
  } else {
    auto t = std::make_unique<SeqExpr>(ExprKind::kTuple, tok.line);
    t->items = std::move(args);
    RETURN_IF_ERROR(Deepen(t.get()));
    key = std::move(t);
  }
  ExprPtr out = std::make_unique<GetitemExpr>(std::move(node), std::move(key), tok.line);
  RETURN_IF_ERROR(Deepen(out.get()));
  return out;
}

StatusOr<ExprPtr> Parser::ParseSubscribed() {
  auto slice = std::make_unique<SliceExpr>(cur().line);
  if (cur().type == Tok::kColon) {
    Next();
  } else {
    ASSIGN_OR_RETURN(ExprPtr e, ParseExpression());
    if (cur().type != Tok::kColon) return e;
    Next();
    slice->start = std::move(e);
  }
  if (cur().type != Tok::kColon && cur().type != Tok::kRBracket && cur().type != Tok::kComma) {
    ASSIGN_OR_RETURN(slice->stop, ParseExpression());
  }
  if (cur().type == Tok::kColon) {
    Next();
    if (cur().type != Tok::kRBracket && cur().type != Tok::kComma) {
      ASSIGN_OR_RETURN(slice->step, ParseExpression());
    }
  }
  RETURN_IF_ERROR(Deepen(slice.get()));
  return ExprPtr(std::move(slice));
}

Status Parser::ParseCallArgs(ArgsExpr* args) {
  RETURN_IF_ERROR(Expect(Tok::kLParen));
  bool require_comma = false;
  auto invalid = [&] { return Fail("invalid syntax for function call expression"); };
  while (cur().type != Tok::kRParen) {
    if (require_comma) {
      RETURN_IF_ERROR(Expect(Tok::kComma));
      if (cur().type == Tok::kRParen) break;  // trailing comma
    }
    if (cur().type == Tok::kMul) {
      if (args->star || args->star_star) return invalid();
      Next();
      ASSIGN_OR_RETURN(args->star, ParseExpression());
    } else if (cur().type == Tok::kPow) {
      if (args->star_star) return invalid();
      Next();
      ASSIGN_OR_RETURN(args->star_star, ParseExpression());
    } else if (cur().type == Tok::kName && Look().type == Tok::kAssign) {
      if (args->star_star) return invalid();
      std::string key = cur().text;
      Next();
      Next();
      ASSIGN_OR_RETURN(ExprPtr value, ParseExpression());
      args->kw.emplace_back(std::move(key), std::move(value));
    } else {
      if (args->star || args->star_star || !args->kw.empty()) return invalid();
      ASSIGN_OR_RETURN(ExprPtr value, ParseExpression());
      args->pos.push_back(std::move(value));
    }
    require_comma = true;
  }
  return Expect(Tok::kRParen);
}

StatusOr<ExprPtr> Parser::ParseCall(ExprPtr callee) {
  auto node = std::make_unique<CallExpr>(std::move(callee), cur().line);
  RETURN_IF_ERROR(ParseCallArgs(&node->args));
  RETURN_IF_ERROR(Deepen(node.get()));
  return ExprPtr(std::move(node));
}

StatusOr<ExprPtr> Parser::ParseFilter(ExprPtr node, bool start_inline) {
  while (cur().type == Tok::kPipe || start_inline) {
    if (!start_inline) Next();
    start_inline = false;
    const int line = cur().line;
    ASSIGN_OR_RETURN(std::string name, ExpectAnyName());
    while (cur().type == Tok::kDot) {
      Next();
      ASSIGN_OR_RETURN(std::string part, ExpectAnyName());
      name += "." + part;
    }
    auto f = std::make_unique<FilterExpr>(std::move(node), std::move(name), line);
    f->fn = FindFilter(f->name);
    if (cur().type == Tok::kLParen) RETURN_IF_ERROR(ParseCallArgs(&f->args));
    RETURN_IF_ERROR(Deepen(f.get()));
    node = std::move(f);
  }
  return node;
}

StatusOr<ExprPtr> Parser::ParseTest(ExprPtr node) {
  const int line = cur().line;
  Next();  // is
  const bool negated = SkipIfName("not");
  ASSIGN_OR_RETURN(std::string name, ExpectAnyName());
  while (cur().type == Tok::kDot) {
    Next();
    ASSIGN_OR_RETURN(std::string part, ExpectAnyName());
    name += "." + part;
  }
  auto t = std::make_unique<TestExpr>(std::move(node), std::move(name), line);
  t->fn = FindTest(t->name);
  const Tok c = cur().type;
  if (c == Tok::kLParen) {
    RETURN_IF_ERROR(ParseCallArgs(&t->args));
  } else if ((c == Tok::kName || c == Tok::kString || c == Tok::kInteger || c == Tok::kFloat ||
              c == Tok::kLBracket || c == Tok::kLBrace) &&
             !IsName("else") && !IsName("or") && !IsName("and")) {
    if (IsName("is")) return Fail("You cannot chain multiple tests with is");
    RETURN_IF_ERROR(Enter());
    DepthExit exit{&depth_};
    ASSIGN_OR_RETURN(ExprPtr arg, ParsePrimary());
    ASSIGN_OR_RETURN(arg, ParsePostfix(std::move(arg)));
    t->args.pos.push_back(std::move(arg));
  }
  RETURN_IF_ERROR(Deepen(t.get()));
  ExprPtr out = std::move(t);
  if (negated) {
    out = std::make_unique<UnaryExpr>(ExprKind::kNot, std::move(out), line);
    RETURN_IF_ERROR(Deepen(out.get()));
  }
  return out;
}

}  // namespace pagellm::jinja::internal
