// Jinja lexer: template source -> tokens, with Jinja2's whitespace control (-/+ markers,
// trim_blocks, lstrip_blocks), raw blocks and comments resolved here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/status.h"

namespace pagellm::jinja {

enum class Tok : uint8_t {
  kData,
  kVarBegin,
  kVarEnd,
  kBlockBegin,
  kBlockEnd,
  kName,
  kString,
  kInteger,
  kFloat,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kFloorDiv,
  kPow,
  kMod,
  kTilde,
  kLBracket,
  kRBracket,
  kLParen,
  kRParen,
  kLBrace,
  kRBrace,
  kEq,
  kNe,
  kGt,
  kGtEq,
  kLt,
  kLtEq,
  kAssign,
  kDot,
  kColon,
  kPipe,
  kComma,
  kSemicolon,
  kEof,
};

// How a token reads in error messages ("end of statement block", "'('", ...).
std::string DescribeTok(Tok t);

struct Token {
  Tok type = Tok::kEof;
  std::string text;       // data text, name, decoded string literal, or operator spelling
  int64_t int_value = 0;  // kInteger
  double float_value = 0; // kFloat
  int line = 1;
  int col = 1;
};

struct LexOptions {
  bool trim_blocks = true;   // drop the first newline after a block/comment tag
  bool lstrip_blocks = true; // strip spaces/tabs before a block/comment tag on its line
};

// Tokenizes after Jinja2's source normalization (\r\n and \r become \n; one trailing newline
// is dropped, i.e. keep_trailing_newline=False). Precondition: source is valid UTF-8. Errors
// are InvalidArgument "syntax error at line L, column C: ...".
StatusOr<std::vector<Token>> Tokenize(std::string_view source, const LexOptions& options = {});

}  // namespace pagellm::jinja
