// Jinja parser, statements: template body, for/if/set/macro/call/filter/with/generation blocks.
#include "src/jinja/parser.h"

#include <algorithm>

#include "src/jinja/stack.h"

namespace pagellm::jinja {

StatusOr<Body> ParseTokens(std::vector<Token> tokens, const ParseOptions& options) {
  internal::Parser parser(std::move(tokens), options);
  return parser.ParseAll();
}

StatusOr<Body> ParseTemplateSource(std::string_view source, const LexOptions& lex,
                                   const ParseOptions& parse) {
  ASSIGN_OR_RETURN(auto tokens, Tokenize(source, lex));
  return ParseTokens(std::move(tokens), parse);
}

namespace internal {

namespace {
std::string Quoted(const std::vector<std::string_view>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += " or ";
    out += StrCat("'", names[i], "'");
  }
  return out;
}
}  // namespace

Parser::Parser(std::vector<Token> tokens, const ParseOptions& options)
    : toks_(std::move(tokens)), options_(options), stack_floor_(StackFloor()) {}

// ---------------------------------------------------------------- token helpers

bool Parser::SkipIf(Tok t) {
  if (cur().type != t) return false;
  Next();
  return true;
}

bool Parser::SkipIfName(std::string_view v) {
  if (!IsName(v)) return false;
  Next();
  return true;
}

Status Parser::FailAt(const Token& t, std::string_view msg) const {
  return InvalidArgument(StrCat("syntax error at line ", t.line, ", column ", t.col, ": ", msg));
}

Status Parser::Fail(std::string_view msg) const { return FailAt(cur(), msg); }

Status Parser::Expect(Tok t) {
  if (cur().type == t) {
    Next();
    return absl::OkStatus();
  }
  if (cur().type == Tok::kEof) {
    return Fail(StrCat("unexpected end of template, expected ", DescribeTok(t), "."));
  }
  const std::string got = cur().type == Tok::kName ? StrCat("'", cur().text, "'") : DescribeTok(cur().type);
  return Fail(StrCat("expected token ", DescribeTok(t), ", got ", got));
}

Status Parser::ExpectName(std::string_view v) {
  if (IsName(v)) {
    Next();
    return absl::OkStatus();
  }
  return Fail(StrCat("expected '", v, "'"));
}

StatusOr<std::string> Parser::ExpectAnyName() {
  if (cur().type != Tok::kName) return Fail(StrCat("expected name, got ", DescribeTok(cur().type)));
  std::string name = cur().text;
  Next();
  return name;
}

Status Parser::Enter() {
  if (++depth_ > options_.max_nesting) {
    return Fail(StrCat("template nesting exceeds the limit of ", options_.max_nesting, " levels"));
  }
  if (StackExhausted(stack_floor_)) return Fail("template nesting is too deep for this thread's stack");
  return absl::OkStatus();
}

void Parser::NoteName(const std::string& name) {
  if (!name_sinks_.empty()) name_sinks_.back()->insert(name);
}

// ---------------------------------------------------------------- bodies

StatusOr<Body> Parser::ParseAll() {
  ASSIGN_OR_RETURN(Body body, Subparse({}));
  if (cur().type != Tok::kEof) return Fail("unexpected tokens after the end of the template");
  MarkConstants(&body);
  return body;
}

StatusOr<Body> Parser::Subparse(const std::vector<std::string_view>& end_tokens) {
  Body body;
  while (true) {
    const Token& t = cur();
    switch (t.type) {
      case Tok::kData:
        body.push_back(std::make_unique<TextStmt>(t.text, t.line));
        Next();
        break;
      case Tok::kVarBegin: {
        const int line = t.line;
        Next();
        ASSIGN_OR_RETURN(ExprPtr e, ParseTuple());
        RETURN_IF_ERROR(Expect(Tok::kVarEnd));
        body.push_back(std::make_unique<PrintStmt>(std::move(e), line));
        break;
      }
      case Tok::kBlockBegin: {
        Next();
        if (cur().type == Tok::kName &&
            std::find(end_tokens.begin(), end_tokens.end(), cur().text) != end_tokens.end()) {
          return body;
        }
        ASSIGN_OR_RETURN(StmtPtr s, ParseStatement());
        if (s) body.push_back(std::move(s));
        RETURN_IF_ERROR(Expect(Tok::kBlockEnd));
        break;
      }
      case Tok::kEof:
        if (!end_tokens.empty()) {
          std::string msg = StrCat("Unexpected end of template. Jinja was looking for the following tags: ",
                                   Quoted(end_tokens), ".");
          if (!tag_stack_.empty()) {
            msg += StrCat(" The innermost block that needs to be closed is '", tag_stack_.back(), "'.");
          }
          return Fail(msg);
        }
        return body;
      default:
        return Fail(StrCat("unexpected ", DescribeTok(t.type)));
    }
  }
}

StatusOr<Body> Parser::ParseStatements(const std::vector<std::string_view>& end_tokens,
                                       bool drop_needle) {
  // The statement's own header must be closed first: `{% if x %}` -> skip the block end.
  RETURN_IF_ERROR(Expect(Tok::kBlockEnd));
  RETURN_IF_ERROR(Enter());
  ASSIGN_OR_RETURN(Body body, Subparse(end_tokens));
  --depth_;
  if (drop_needle) Next();
  return body;
}

StatusOr<StmtPtr> Parser::ParseStatement() {
  const Token& t = cur();
  if (t.type != Tok::kName) return Fail("tag name expected");
  const std::string name = t.text;
  static const char* const kUnsupported[] = {"block", "extends", "include", "import", "from"};
  for (const char* u : kUnsupported) {
    if (name == u) return Fail(StrCat("tag '", name, "' is not supported (single-template chat renderer)"));
  }
  tag_stack_.push_back(name);
  StatusOr<StmtPtr> result = StmtPtr();
  if (name == "for") {
    result = ParseFor();
  } else if (name == "if") {
    result = ParseIf();
  } else if (name == "set") {
    result = ParseSet();
  } else if (name == "macro") {
    result = ParseMacro();
  } else if (name == "call") {
    result = ParseCallBlock();
  } else if (name == "filter") {
    result = ParseFilterBlock();
  } else if (name == "with") {
    result = ParseWith();
  } else if (name == "generation") {
    Next();
    result = ParseScopeBlock("endgeneration", t.line);
  } else if (name == "autoescape") {
    Next();
    auto value = ParseExpression();  // accepted and ignored: output is never HTML-escaped
    if (!value.ok()) return value.status();
    result = ParseScopeBlock("endautoescape", t.line);
  } else if (name == "print") {
    // {% print a, b %} outputs each item, like Jinja2's Output node (not a tuple).
    Next();
    auto e = ParseTuple();
    if (!e.ok()) return e.status();
    auto scope = std::make_unique<ScopeStmt>(t.line);
    if ((*e)->kind == ExprKind::kTuple) {
      for (ExprPtr& item : static_cast<SeqExpr&>(**e).items) {
        scope->body.push_back(std::make_unique<PrintStmt>(std::move(item), t.line));
      }
    } else {
      scope->body.push_back(std::make_unique<PrintStmt>(std::move(*e), t.line));
    }
    result = StmtPtr(std::move(scope));
  } else if (name == "break" || name == "continue") {
    if (loop_depth_ == 0) return Fail(StrCat("'", name, "' outside loop"));
    const int line = t.line;
    Next();
    result = StmtPtr(std::make_unique<LoopControlStmt>(
        name == "break" ? StmtKind::kBreak : StmtKind::kContinue, line));
  } else {
    tag_stack_.pop_back();
    if (name.rfind("end", 0) == 0 || name == "else" || name == "elif") {
      std::string msg = StrCat("Encountered unknown tag '", name, "'.");
      if (!tag_stack_.empty()) {
        msg += StrCat(" The innermost block that needs to be closed is '", tag_stack_.back(), "'.");
      }
      return Fail(msg);
    }
    return Fail(StrCat("Encountered unknown tag '", name, "'."));
  }
  tag_stack_.pop_back();
  return result;
}

StatusOr<StmtPtr> Parser::ParseFor() {
  auto node = std::make_unique<ForStmt>(cur().line);
  Next();
  ASSIGN_OR_RETURN(node->target, ParseAssignTarget(true, false, {"in"}, false));
  RETURN_IF_ERROR(ExpectName("in"));
  ASSIGN_OR_RETURN(node->iter, ParseTuple(false, {"recursive"}));
  if (SkipIfName("if")) {
    ASSIGN_OR_RETURN(node->filter, ParseExpression());
  }
  node->recursive = SkipIfName("recursive");
  ++loop_depth_;
  ASSIGN_OR_RETURN(node->body, ParseStatements({"endfor", "else"}, false));
  --loop_depth_;
  if (cur().text == "endfor") {
    Next();
  } else {
    Next();  // else
    ASSIGN_OR_RETURN(node->else_body, ParseStatements({"endfor"}, true));
  }
  return StmtPtr(std::move(node));
}

StatusOr<StmtPtr> Parser::ParseIf() {
  auto node = std::make_unique<IfStmt>(cur().line);
  Next();
  while (true) {
    ASSIGN_OR_RETURN(ExprPtr test, ParseTuple(false));
    ASSIGN_OR_RETURN(Body body, ParseStatements({"elif", "else", "endif"}, false));
    node->branches.emplace_back(std::move(test), std::move(body));
    const std::string tag = cur().text;
    Next();
    if (tag == "elif") continue;
    if (tag == "else") {
      ASSIGN_OR_RETURN(node->else_body, ParseStatements({"endif"}, true));
    }
    break;
  }
  return StmtPtr(std::move(node));
}

StatusOr<StmtPtr> Parser::ParseSet() {
  const int line = cur().line;
  Next();
  ASSIGN_OR_RETURN(Target target, ParseAssignTarget(true, false, {}, true));
  if (SkipIf(Tok::kAssign)) {
    ASSIGN_OR_RETURN(ExprPtr value, ParseTuple());
    return StmtPtr(std::make_unique<SetStmt>(std::move(target), std::move(value), line));
  }
  auto node = std::make_unique<SetBlockStmt>(line);
  node->target = std::move(target);
  if (cur().type == Tok::kPipe) {
    ASSIGN_OR_RETURN(node->filter, ParseFilter(nullptr, false));
  }
  ASSIGN_OR_RETURN(node->body, ParseStatements({"endset"}, true));
  return StmtPtr(std::move(node));
}

Status Parser::ParseSignature(MacroDef* def) {
  RETURN_IF_ERROR(Expect(Tok::kLParen));
  while (cur().type != Tok::kRParen) {
    if (!def->params.empty()) RETURN_IF_ERROR(Expect(Tok::kComma));
    ASSIGN_OR_RETURN(std::string name, ExpectAnyName());
    if (SkipIf(Tok::kAssign)) {
      ASSIGN_OR_RETURN(ExprPtr d, ParseExpression());
      def->defaults.push_back(std::move(d));
    } else if (!def->defaults.empty()) {
      return Fail("non-default argument follows default argument");
    }
    def->params.push_back(std::move(name));
  }
  return Expect(Tok::kRParen);
}

Status Parser::ParseMacroBody(MacroDef* def, std::string_view end_tag) {
  std::set<std::string> names;
  name_sinks_.push_back(&names);
  const int saved_loops = loop_depth_;
  loop_depth_ = 0;
  auto body = ParseStatements({end_tag}, true);
  loop_depth_ = saved_loops;
  name_sinks_.pop_back();
  if (!body.ok()) return body.status();
  def->body = std::move(*body);
  def->uses_caller = names.count("caller") > 0;
  def->uses_varargs = names.count("varargs") > 0;
  def->uses_kwargs = names.count("kwargs") > 0;
  for (const auto& n : names) NoteName(n);  // an enclosing macro sees nested references too
  return absl::OkStatus();
}

StatusOr<StmtPtr> Parser::ParseMacro() {
  auto node = std::make_unique<MacroStmt>(cur().line);
  Next();
  ASSIGN_OR_RETURN(node->def.name, ExpectAnyName());
  RETURN_IF_ERROR(ParseSignature(&node->def));
  RETURN_IF_ERROR(ParseMacroBody(&node->def, "endmacro"));
  return StmtPtr(std::move(node));
}

StatusOr<StmtPtr> Parser::ParseCallBlock() {
  auto node = std::make_unique<CallBlockStmt>(cur().line);
  Next();
  node->caller.name = "caller";
  if (cur().type == Tok::kLParen) RETURN_IF_ERROR(ParseSignature(&node->caller));
  ASSIGN_OR_RETURN(node->call, ParseExpression());
  if (node->call->kind != ExprKind::kCall) return Fail("expected call");
  RETURN_IF_ERROR(ParseMacroBody(&node->caller, "endcall"));
  return StmtPtr(std::move(node));
}

StatusOr<StmtPtr> Parser::ParseFilterBlock() {
  auto node = std::make_unique<FilterBlockStmt>(cur().line);
  Next();
  ASSIGN_OR_RETURN(node->filter, ParseFilter(nullptr, true));
  ASSIGN_OR_RETURN(node->body, ParseStatements({"endfilter"}, true));
  return StmtPtr(std::move(node));
}

StatusOr<StmtPtr> Parser::ParseWith() {
  auto node = std::make_unique<WithStmt>(cur().line);
  Next();
  while (cur().type != Tok::kBlockEnd) {
    if (!node->assignments.empty()) RETURN_IF_ERROR(Expect(Tok::kComma));
    ASSIGN_OR_RETURN(Target target, ParseAssignTarget(true, false, {}, false));
    RETURN_IF_ERROR(Expect(Tok::kAssign));
    ASSIGN_OR_RETURN(ExprPtr value, ParseExpression());
    node->assignments.emplace_back(std::move(target), std::move(value));
  }
  ASSIGN_OR_RETURN(node->body, ParseStatements({"endwith"}, true));
  return StmtPtr(std::move(node));
}

StatusOr<StmtPtr> Parser::ParseScopeBlock(std::string_view end_tag, int line) {
  auto node = std::make_unique<ScopeStmt>(line);
  ASSIGN_OR_RETURN(node->body, ParseStatements({end_tag}, true));
  return StmtPtr(std::move(node));
}

// ---------------------------------------------------------------- assignment targets

StatusOr<Target> Parser::ParseTargetPrimary() {
  if (cur().type == Tok::kLParen) {
    Next();
    RETURN_IF_ERROR(Enter());
    ASSIGN_OR_RETURN(Target t, ParseAssignTarget(true, false, {}, false));
    --depth_;
    RETURN_IF_ERROR(Expect(Tok::kRParen));
    return t;
  }
  if (cur().type != Tok::kName) return Fail(StrCat("can't assign to ", DescribeTok(cur().type)));
  const std::string& n = cur().text;
  if (n == "true" || n == "false" || n == "none" || n == "True" || n == "False" || n == "None") {
    return Fail("can't assign to 'const'");
  }
  Target t;
  t.name = n;
  Next();
  return t;
}

StatusOr<Target> Parser::ParseAssignTarget(bool with_tuple, bool name_only,
                                           const std::vector<std::string_view>& extra_end,
                                           bool with_namespace) {
  if (with_namespace && cur().type == Tok::kName && Look().type == Tok::kDot) {
    Target t;
    t.type = Target::Type::kNsAttr;
    t.name = cur().text;
    Next();
    Next();
    ASSIGN_OR_RETURN(t.attr, ExpectAnyName());
    return t;
  }
  if (name_only || !with_tuple) return ParseTargetPrimary();
  // A simplified tuple of primaries: a, (b, c)
  std::vector<Target> items;
  bool is_tuple = false;
  while (true) {
    if (!items.empty()) RETURN_IF_ERROR(Expect(Tok::kComma));
    if (IsTupleEnd(extra_end)) break;
    ASSIGN_OR_RETURN(Target t, ParseTargetPrimary());
    items.push_back(std::move(t));
    if (cur().type == Tok::kComma) {
      is_tuple = true;
    } else {
      break;
    }
  }
  if (!is_tuple) {
    if (items.empty()) return Fail("Expected an assignment target");
    return std::move(items[0]);
  }
  Target t;
  t.type = Target::Type::kTuple;
  t.items = std::move(items);
  return t;
}

}  // namespace internal
}  // namespace pagellm::jinja
