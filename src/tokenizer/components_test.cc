// Unit tests of the tokenizer's building blocks against published examples: the Unicode
// Standard's U+FFFD substitution table and HF tokenizers' documented pre-tokenizer behaviors.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/tokenizer/added_tokens.h"
#include "src/tokenizer/decoder.h"
#include "src/tokenizer/normalizer.h"
#include "src/tokenizer/pre_tokenizer.h"
#include "src/tokenizer/unicode.h"
#include "src/tokenizer/utf8.h"

namespace pagellm::tokenizer {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

std::vector<std::string> Pre(const std::string& json, const std::string& text, bool first = true) {
  auto j = ParseJson(json, "test");
  EXPECT_TRUE(j.ok());
  auto p = PreTokenizer::FromJson(*j, "pre_tokenizer");
  EXPECT_TRUE(p.ok()) << p.status();
  std::vector<std::string> pieces;
  EXPECT_TRUE((*p)->Apply(text, first, &pieces).ok());
  return pieces;
}

std::string Norm(const std::string& json, const std::string& text) {
  auto j = ParseJson(json, "test");
  EXPECT_TRUE(j.ok());
  auto n = Normalizer::FromJson(*j, "normalizer");
  EXPECT_TRUE(n.ok()) << n.status();
  return (*n)->Apply(text);
}

using Pieces = std::vector<std::string>;

// The Unicode Standard, section 3.9, Table 3-8 ("U+FFFD for Non-Shortest Form Sequences" and
// maximal subparts): 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 -> a FFFD FFFD FFFD b FFFD c FFFD FFFD d.
TEST(Utf8, MaximalSubpartSubstitution) {
  const std::string in = "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64";
  const std::string want = "a" + kFffd + kFffd + kFffd + "b" + kFffd + "c" + kFffd + kFffd + "d";
  EXPECT_EQ(SanitizeUtf8(in), want);
  // Streaming byte by byte gives the same text.
  Utf8Decoder dec;
  std::string out;
  for (char c : in) dec.Feed(std::string_view(&c, 1), &out);
  dec.Finish(&out);
  EXPECT_EQ(out, want);
  EXPECT_FALSE(IsValidUtf8(in));
  EXPECT_TRUE(IsValidUtf8(want));
}

TEST(Utf8, RejectsOverlongsSurrogatesAndOutOfRange) {
  EXPECT_TRUE(IsValidUtf8("plain \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xC0\x80"));          // overlong NUL
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate D800
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));          // truncated
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), kFffd + kFffd + kFffd);
  EXPECT_EQ(SanitizeUtf8(std::string("a\0b", 3)), std::string("a\0b", 3));
  Utf8Decoder dec;
  std::string out;
  dec.Feed("\xF0\x9F", &out);
  EXPECT_EQ(out, "");
  EXPECT_EQ(dec.pending(), 2u);
  dec.Feed("\x98\x80", &out);
  EXPECT_EQ(out, "\xF0\x9F\x98\x80");
  EXPECT_EQ(dec.pending(), 0u);
}

// HF tokenizers' documentation of SplitDelimiterBehavior, on "the-final--countdown" split at "-".
TEST(PreTokenizer, SplitBehaviorsAsDocumented) {
  auto split = [](const char* behavior) {
    return Pre(std::string(R"({"type":"Split","pattern":{"String":"-"},"behavior":")") +
                   behavior + R"(","invert":false})",
               "the-final--countdown");
  };
  EXPECT_EQ(split("Removed"), (Pieces{"the", "final", "countdown"}));
  EXPECT_EQ(split("Isolated"), (Pieces{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split("MergedWithPrevious"), (Pieces{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(split("MergedWithNext"), (Pieces{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(split("Contiguous"), (Pieces{"the", "-", "final", "--", "countdown"}));
  // invert keeps the matches as the pieces.
  EXPECT_EQ(Pre(R"({"type":"Split","pattern":{"Regex":"[a-z]+"},"behavior":"Removed","invert":true})",
                "ab, cd!"),
            (Pieces{"ab", "cd"}));
}

// Examples from HF tokenizers' pre-tokenizer documentation.
TEST(PreTokenizer, DocumentedExamples) {
  EXPECT_EQ(Pre(R"({"type":"Whitespace"})", "Hello! How are you? I'm fine, thank you."),
            (Pieces{"Hello", "!", "How", "are", "you", "?", "I", "'", "m", "fine", ",", "thank",
                    "you", "."}));
  EXPECT_EQ(Pre(R"({"type":"WhitespaceSplit"})", "Hello! How are you?"),
            (Pieces{"Hello!", "How", "are", "you?"}));
  EXPECT_EQ(Pre(R"({"type":"BertPreTokenizer"})", "Hello! How are you? I'm"),
            (Pieces{"Hello", "!", "How", "are", "you", "?", "I", "'", "m"}));
  EXPECT_EQ(Pre(R"({"type":"Digits","individual_digits":false})", "Call 123 please"),
            (Pieces{"Call ", "123", " please"}));
  EXPECT_EQ(Pre(R"({"type":"Digits","individual_digits":true})", "Call 123 please"),
            (Pieces{"Call ", "1", "2", "3", " please"}));
  EXPECT_EQ(Pre(R"({"type":"Punctuation","behavior":"Isolated"})", "Hey friend!? ok"),
            (Pieces{"Hey friend", "!", "?", " ok"}));
  EXPECT_EQ(Pre(R"({"type":"Punctuation","behavior":"Contiguous"})", "Hey friend!? ok"),
            (Pieces{"Hey friend", "!?", " ok"}));
  EXPECT_EQ(Pre(R"({"type":"Metaspace","replacement":"\u2581","prepend_scheme":"always"})",
                "Hey friend"),
            (Pieces{"\xE2\x96\x81Hey", "\xE2\x96\x81" "friend"}));
  // prepend_scheme "first" only prefixes text at the start of the input.
  EXPECT_EQ(Pre(R"({"type":"Metaspace","prepend_scheme":"first","split":false})", "Hey", false),
            (Pieces{"Hey"}));
  EXPECT_EQ(Pre(R"({"type":"Metaspace","prepend_scheme":"first","split":false})", "Hey", true),
            (Pieces{"\xE2\x96\x81Hey"}));
}

TEST(PreTokenizer, ByteLevelMapsBytesToTheGpt2Alphabet) {
  EXPECT_EQ(Pre(R"({"type":"ByteLevel","add_prefix_space":false,"use_regex":true})",
                "Hello world\n  x's"),
            (Pieces{"Hello", "\xC4\xA0world", "\xC4\x8A\xC4\xA0", "\xC4\xA0x", "'s"}));
  EXPECT_EQ(Pre(R"({"type":"ByteLevel","add_prefix_space":true,"use_regex":false})", "hi"),
            (Pieces{"\xC4\xA0hi"}));
  const ByteLevelAlphabet& a = GetByteLevelAlphabet();
  EXPECT_EQ(a.byte_to_cp[' '], 0x120u);   // Ġ
  EXPECT_EQ(a.byte_to_cp['\n'], 0x10Au);  // Ċ
  EXPECT_EQ(a.byte_to_cp['A'], static_cast<char32_t>('A'));
  for (int b = 0; b < 256; ++b) EXPECT_EQ(a.CodepointToByte(a.byte_to_cp[b]), b);
}

TEST(Normalizer, Components) {
  EXPECT_EQ(Norm(R"({"type":"NFD"})", "\xC3\xA9"), "e\xCC\x81");
  EXPECT_EQ(Norm(R"({"type":"NFC"})", "e\xCC\x81"), "\xC3\xA9");
  EXPECT_EQ(Norm(R"({"type":"NFKC"})", "\xEF\xAC\x81"), "fi");  // U+FB01 ligature
  EXPECT_EQ(Norm(R"({"type":"Lowercase"})", "HeLLo \xC3\x9C"), "hello \xC3\xBC");
  EXPECT_EQ(Norm(R"({"type":"Sequence","normalizers":[{"type":"NFD"},{"type":"StripAccents"}]})",
                 "caf\xC3\xA9"),
            "cafe");
  EXPECT_EQ(Norm(R"({"type":"Strip","strip_left":true,"strip_right":true})", "  a b \t"), "a b");
  EXPECT_EQ(Norm(R"({"type":"Replace","pattern":{"Regex":"\\s+"},"content":" "})", "a \t\n b"),
            "a b");
  // Llama 2 / Mistral: Prepend("▁") + Replace(" ", "▁"); nothing is prepended to empty text.
  const std::string spm = R"({"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"\u2581"},
      {"type":"Replace","pattern":{"String":" "},"content":"\u2581"}]})";
  EXPECT_EQ(Norm(spm, "Hi there"), "\xE2\x96\x81Hi\xE2\x96\x81there");
  EXPECT_EQ(Norm(spm, ""), "");
  // BertNormalizer: control chars dropped, white space -> ' ', CJK padded, accents, lowercase.
  EXPECT_EQ(Norm(R"({"type":"BertNormalizer"})", "H\xC3\xA9llo\tW\x01!\xE4\xB8\x96"),
            "hello w! \xE4\xB8\x96 ");
}

TEST(Decoder, SentencePieceAndByteLevel) {
  auto j = ParseJson(R"({"type":"Sequence","decoders":[
      {"type":"Replace","pattern":{"String":"\u2581"},"content":" "},{"type":"ByteFallback"},
      {"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]})", "t");
  ASSERT_TRUE(j.ok());
  auto d = Decoder::FromJson(*j, "decoder");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->PieceBytes("\xE2\x96\x81Hey", false), " Hey");
  EXPECT_EQ(d->PieceBytes("<0x21>", false), "!");
  EXPECT_EQ(d->strip_leading(), 1);
  EXPECT_FALSE(d->first_sensitive());
  const Decoder bl = Decoder::ByteLevel();
  EXPECT_EQ(bl.PieceBytes("\xC4\xA0world\xC4\x8A", false), " world\n");
  EXPECT_EQ(bl.PieceBytes("<|im_end|>", false), "<|im_end|>");
}

TEST(AddedTokens, LeftmostLongestWithStripAndSingleWord) {
  std::vector<AddedToken> tokens(5);
  tokens[0] = {10, "<a>", true};
  tokens[1] = {11, "<a><b>", true};
  tokens[2] = {12, "<mask>", true, /*lstrip=*/true, /*rstrip=*/true};
  tokens[3] = {13, "ab", false, false, false, false, /*single_word=*/true};
  tokens[4] = {14, "<user>", false};
  AddedTokenMatcher m(tokens);
  auto split = [&](const std::string& text, bool parse_special) {
    std::vector<Segment> segs;
    m.Split(text, parse_special, false, &segs);
    std::vector<std::string> out;
    for (const auto& s : segs) {
      out.push_back(s.token >= 0 ? "#" + std::to_string(s.token)
                                 : text.substr(s.begin, s.end - s.begin));
    }
    return out;
  };
  EXPECT_EQ(split("x<a><b>y<a>", true), (Pieces{"x", "#11", "y", "#10"}));
  EXPECT_EQ(split("x<a><b>y<a>", false), (Pieces{"x<a><b>y<a>"}));
  EXPECT_EQ(split("I  <mask>  it", true), (Pieces{"I", "#12", "it"}));
  EXPECT_EQ(split("abc ab", false), (Pieces{"abc ", "#13"}));
  EXPECT_EQ(split("<user>: hi", false), (Pieces{"#14", ": hi"}));
}

TEST(UnicodeClasses, Basics) {
  EXPECT_TRUE(IsLetter(U'\u00E9'));
  EXPECT_TRUE(IsNumeric(U'\u00BD'));  // ½ is No
  EXPECT_TRUE(IsNumeric(U'\u0663'));  // Arabic-Indic three
  EXPECT_TRUE(IsHfPunctuation('$'));  // ASCII punctuation includes symbols
  EXPECT_FALSE(IsPunctuation('$'));
  EXPECT_TRUE(IsWhitespace(U'\u3000'));
  EXPECT_TRUE(IsWhitespace(U'\u0085'));
  EXPECT_FALSE(IsWhitespace(U'\u200B'));
  EXPECT_TRUE(IsChineseChar(U'\u4E16'));
  EXPECT_EQ(ToLower("\xC4\xB0"), "i\xCC\x87");  // U+0130
}

}  // namespace
}  // namespace pagellm::tokenizer
