// Lexer-level behaviour: whitespace control (trim_blocks, lstrip_blocks, -, +), comments, raw
// blocks, newline normalization, literals, and syntax errors with line/column. Expected outputs
// follow Jinja2's documented rules for the HF environment (trim_blocks and lstrip_blocks on).
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/jinja/jinja_testutil.h"
#include "src/jinja/lexer.h"

namespace pagellm::jinja::testing {
namespace {

using ::testing::HasSubstr;

TEST(JinjaWhitespace, TrimBlocksDropsTheNewlineAfterABlockTag) {
  EXPECT_EQ(RenderOk("{% if true %}\nyes\n{% endif %}\nno"), "yes\nno");
  // Only one newline, and only after block and comment tags, not after {{ }}.
  EXPECT_EQ(RenderOk("{% if true %}\n\nyes{% endif %}"), "\nyes");
  EXPECT_EQ(RenderOk("{{ 1 }}\n{{ 2 }}"), "1\n2");
  EXPECT_EQ(RenderOk("{# note #}\nx"), "x");
}

TEST(JinjaWhitespace, LstripBlocksStripsIndentBeforeBlockTags) {
  EXPECT_EQ(RenderOk("a\n  {% if true %}\n  yes\n  {% endif %}\nb"), "a\n  yes\nb");
  EXPECT_EQ(RenderOk("\t {% if true %}x{% endif %}"), "x");  // at the very start
  EXPECT_EQ(RenderOk("  {{ 1 }}"), "  1");                    // not before {{ }}
  EXPECT_EQ(RenderOk("a  {% if true %}b{% endif %}"), "a  b");  // text before it on the line
  EXPECT_EQ(RenderOk("x\n  {# c #}\ny"), "x\ny");
}

TEST(JinjaWhitespace, MinusStripsAllWhitespaceOnThatSide) {
  EXPECT_EQ(RenderOk("a  \n {%- if true -%} \n b \n {%- endif -%}\n\n c"), "abc");
  EXPECT_EQ(RenderOk("a  {{- 'x' -}}  b"), "axb");
  EXPECT_EQ(RenderOk("a \n{#- c -#}\n b"), "ab");
}

TEST(JinjaWhitespace, PlusDisablesLstripAndTrim) {
  EXPECT_EQ(RenderOk("  {%+ if true %}x{% endif %}"), "  x");
  EXPECT_EQ(RenderOk("{% if true +%}\nx{% endif %}"), "\nx");
}

TEST(JinjaWhitespace, NewlinesAreNormalizedAndOneTrailingNewlineDropped) {
  EXPECT_EQ(RenderOk("a\r\nb\rc"), "a\nb\nc");
  EXPECT_EQ(RenderOk("x\n"), "x");
  EXPECT_EQ(RenderOk("x\n\n"), "x\n");
  EXPECT_EQ(RenderOk("{% if true %}\r\nx{% endif %}"), "x");  // \r\n counts as the trimmed newline
}

TEST(JinjaWhitespace, ChatTemplateIndentationDisappears) {
  const char* tmpl =
      "{%- for m in messages %}\n"
      "    {{- '<' + m + '>' }}\n"
      "{%- endfor %}\n";
  EXPECT_EQ(RenderOk(tmpl, R"({"messages": ["a", "b"]})"), "<a><b>");
}

TEST(JinjaRaw, RawBlocksAreNotInterpreted) {
  EXPECT_EQ(RenderOk("{% raw %}{{ x }}{% if %}{% endraw %}"), "{{ x }}{% if %}");
  EXPECT_EQ(RenderOk("{%- raw -%}  {{ x }}  {%- endraw -%}  !"), "{{ x }}!");
  // The raw opening tag does not trim the newline; the closing one does.
  EXPECT_EQ(RenderOk("{% raw %}\nx{% endraw %}\ny"), "\nxy");
}

TEST(JinjaLiterals, StringEscapesFollowPython) {
  EXPECT_EQ(RenderOk(R"({{ 'a\tb' }})"), "a\tb");
  EXPECT_EQ(RenderOk(R"({{ "\u00e9\x41\101\n" }})"), "\xC3\xA9" "AA\n");
  EXPECT_EQ(RenderOk(R"({{ 'keep \d and \q' }})"), "keep \\d and \\q");
  EXPECT_EQ(RenderOk(R"({{ 'it\'s' ~ "say \"hi\"" }})"), "it's" "say \"hi\"");
  EXPECT_EQ(RenderOk("{{ 'a' 'b' \"c\" }}"), "abc");  // adjacent literals concatenate
  EXPECT_EQ(RenderOk(R"({{ '\U0001F44B' }})"), "\xF0\x9F\x91\x8B");
}

TEST(JinjaLiterals, Numbers) {
  EXPECT_EQ(RenderOk("{{ 1_000 + 0x10 + 0o10 + 0b10 }}"), "1026");
  EXPECT_EQ(RenderOk("{{ 1e3 }} {{ 2.50 }} {{ 1.5E-3 }} {{ 10.0 }}"), "1000.0 2.5 0.0015 10.0");
  EXPECT_EQ(RenderOk("{{ [1, 2][1] }} {{ (1, 2).1 }}"), "2 2");  // x.1 is x[1]
}

TEST(JinjaLiterals, BracesInsideTagsAreBalanced) {
  EXPECT_EQ(RenderOk("{{ {'a': {'b': 1}}['a']['b'] }}"), "1");
  EXPECT_EQ(RenderOk("{% set d = {'k': {'x': 2}} %}{{ d.k.x }}"), "2");
}

TEST(JinjaSyntaxErrors, ReportLineAndColumn) {
  EXPECT_THAT(RenderError("line one\n{{ 1 + @ }}"),
              HasSubstr("syntax error at line 2, column 8: unexpected char '@'"));
  EXPECT_THAT(RenderError("{% if x %}\nno end"),
              HasSubstr("Unexpected end of template. Jinja was looking for the following tags: "
                        "'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'"));
  EXPECT_THAT(RenderError("{% frobnicate %}"), HasSubstr("Encountered unknown tag 'frobnicate'"));
  EXPECT_THAT(RenderError("{% if true %}{% endfor %}"), HasSubstr("Encountered unknown tag 'endfor'"));
  EXPECT_THAT(RenderError("{{ 'unterminated }}"), HasSubstr("unexpected char"));
  EXPECT_THAT(RenderError("{{ x "), HasSubstr("unexpected end of template"));
  EXPECT_THAT(RenderError("{# open comment"), HasSubstr("Missing end of comment tag"));
  EXPECT_THAT(RenderError("{% raw %}open"), HasSubstr("Missing end of raw directive"));
  EXPECT_THAT(RenderError("{{ (1, 2 }}"), HasSubstr("unexpected '}'"));
  EXPECT_THAT(RenderError("{{ a b }}"), HasSubstr("expected token end of print statement, got 'b'"));
  EXPECT_THAT(RenderError("{% macro m(a=1, b) %}{% endmacro %}"), HasSubstr("non-default argument"));
  EXPECT_THAT(RenderError("{% break %}"), HasSubstr("'break' outside loop"));
  EXPECT_THAT(RenderError("{% include 'other.jinja' %}"), HasSubstr("not supported"));
  EXPECT_THAT(RenderError("{{ 1 is odd is even }}"), HasSubstr("You cannot chain multiple tests with is"));
}

TEST(JinjaSyntaxErrors, InvalidUtf8SourceIsRejected) {
  EXPECT_THAT(RenderError("bad \xC3\x28 byte"), HasSubstr("not valid UTF-8"));
}

TEST(JinjaLexer, TokenStream) {
  auto tokens = Tokenize("a{{ x|f(1, 'y') }}b");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  std::vector<Tok> types;
  for (const Token& t : *tokens) types.push_back(t.type);
  const std::vector<Tok> want = {Tok::kData,   Tok::kVarBegin, Tok::kName,   Tok::kPipe,
                                 Tok::kName,   Tok::kLParen,   Tok::kInteger, Tok::kComma,
                                 Tok::kString, Tok::kRParen,   Tok::kVarEnd, Tok::kData,
                                 Tok::kEof};
  EXPECT_EQ(types, want);
  EXPECT_EQ((*tokens)[8].text, "y");
  EXPECT_EQ((*tokens)[6].int_value, 1);
  EXPECT_EQ((*tokens)[2].col, 5);
}

}  // namespace
}  // namespace pagellm::jinja::testing
