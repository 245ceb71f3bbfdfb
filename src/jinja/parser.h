// Jinja parser: tokens -> syntax tree, following Jinja2's grammar and operator precedence.
// Statements live in parser.cc, expressions in parser_expr.cc.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/status.h"
#include "src/jinja/ast.h"
#include "src/jinja/lexer.h"

namespace pagellm::jinja {

struct ParseOptions {
  // Maximum nesting of blocks and expressions (parentheses, calls, unary operators, ...); deeper
  // templates are rejected instead of overflowing the stack.
  int max_nesting = 256;
};

// Parses a token stream from Tokenize. Errors are InvalidArgument
// "syntax error at line L, column C: ...".
StatusOr<Body> ParseTokens(std::vector<Token> tokens, const ParseOptions& options = {});

// Lexes and parses template source.
StatusOr<Body> ParseTemplateSource(std::string_view source, const LexOptions& lex = {},
                                   const ParseOptions& parse = {});

namespace internal {

class Parser {
 public:
  Parser(std::vector<Token> tokens, const ParseOptions& options);

  StatusOr<Body> ParseAll();

  // ---- statements (parser.cc) ----
 private:
  StatusOr<Body> Subparse(const std::vector<std::string_view>& end_tokens);
  // Parses the body up to one of end_tokens; leaves the current token on the end tag name.
  StatusOr<Body> ParseStatements(const std::vector<std::string_view>& end_tokens,
                                 bool drop_needle);
  StatusOr<StmtPtr> ParseStatement();
  StatusOr<StmtPtr> ParseFor();
  StatusOr<StmtPtr> ParseIf();
  StatusOr<StmtPtr> ParseSet();
  StatusOr<StmtPtr> ParseMacro();
  StatusOr<StmtPtr> ParseCallBlock();
  StatusOr<StmtPtr> ParseFilterBlock();
  StatusOr<StmtPtr> ParseWith();
  StatusOr<StmtPtr> ParseScopeBlock(std::string_view end_tag, int line);
  Status ParseSignature(MacroDef* def);
  Status ParseMacroBody(MacroDef* def, std::string_view end_tag);
  StatusOr<Target> ParseAssignTarget(bool with_tuple, bool name_only,
                                     const std::vector<std::string_view>& extra_end,
                                     bool with_namespace);
  StatusOr<Target> ParseTargetPrimary();

  // ---- expressions (parser_expr.cc) ----
 public:
  StatusOr<ExprPtr> ParseExpression(bool with_condexpr = true);
  // Comma-separated expressions; a tuple if there is a comma.
  StatusOr<ExprPtr> ParseTuple(bool with_condexpr = true,
                               const std::vector<std::string_view>& extra_end = {},
                               bool explicit_parentheses = false);

 private:
  StatusOr<ExprPtr> ParseCondExpr();
  StatusOr<ExprPtr> ParseOr();
  StatusOr<ExprPtr> ParseAnd();
  StatusOr<ExprPtr> ParseNot();
  StatusOr<ExprPtr> ParseCompare();
  StatusOr<ExprPtr> ParseMath1();
  StatusOr<ExprPtr> ParseConcat();
  StatusOr<ExprPtr> ParseMath2();
  StatusOr<ExprPtr> ParsePow();
  StatusOr<ExprPtr> ParseUnary(bool with_filter);
  StatusOr<ExprPtr> ParsePrimary();
  StatusOr<ExprPtr> ParsePostfix(ExprPtr node);
  StatusOr<ExprPtr> ParseFilterExpr(ExprPtr node);
  StatusOr<ExprPtr> ParseSubscript(ExprPtr node);
  StatusOr<ExprPtr> ParseSubscribed();
  StatusOr<ExprPtr> ParseList();
  StatusOr<ExprPtr> ParseDict();
  Status ParseCallArgs(ArgsExpr* args);
  StatusOr<ExprPtr> ParseCall(ExprPtr callee);
  StatusOr<ExprPtr> ParseFilter(ExprPtr node, bool start_inline);
  StatusOr<ExprPtr> ParseTest(ExprPtr node);
  bool IsTupleEnd(const std::vector<std::string_view>& extra_end) const;

  // ---- token stream ----
  const Token& cur() const { return toks_[pos_]; }
  const Token& Look() const { return toks_[pos_ + 1 < toks_.size() ? pos_ + 1 : pos_]; }
  void Next() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  bool IsName(std::string_view v) const { return cur().type == Tok::kName && cur().text == v; }
  bool SkipIf(Tok t);
  bool SkipIfName(std::string_view v);
  Status Expect(Tok t);
  Status ExpectName(std::string_view v);
  StatusOr<std::string> ExpectAnyName();
  Status Fail(std::string_view msg) const;
  Status FailAt(const Token& t, std::string_view msg) const;
  Status Enter();  // nesting guard; pair with --depth_
  Status Deepen(Expr* e);  // sets e->depth, fails past max_nesting
  void NoteName(const std::string& name);

  std::vector<Token> toks_;
  size_t pos_ = 0;
  const ParseOptions& options_;
  int depth_ = 0;
  const char* stack_floor_ = nullptr;  // see stack.h
  int loop_depth_ = 0;                       // enclosing for loops (for break/continue)
  std::vector<std::set<std::string>*> name_sinks_;  // names referenced in macro bodies
  std::vector<std::string> tag_stack_;       // open block tags, for error messages
};

}  // namespace internal
}  // namespace pagellm::jinja
