// Tokenizer on the real tokenizers in ../shared: round trips, special tokens, BOS/EOS, invalid
// UTF-8, out-of-range ids, accessors, concurrency.
#include "src/tokenizer/tokenizer.h"

#include <thread>

#include "gtest/gtest.h"
#include "src/base/mapped_file.h"
#include "src/testing/testing.h"
#include "src/tokenizer/tokenizer_testutil.h"
#include "src/tokenizer/utf8.h"

namespace pagellm {
namespace {

using testing::EncodePlain;
using testing::SharedGgufVocab;
using testing::SharedHfTokenizer;

#define REQUIRE_TOKENIZER(var, expr)                                                    \
  const Tokenizer* var = (expr);                                                        \
  if (var == nullptr)                                                                   \
  GTEST_SKIP() << "shared tokenizer data not found for " #expr                          \
               << " (set PAGELLM_SHARED_DIR to the folder holding models/ and tokenizers/)"

// Varied text; all NFC (so NFC-normalizing tokenizers round-trip it too).
const std::vector<std::string>& Texts() {
  static const auto* const kTexts = new std::vector<std::string>{
      "Hello world",
      " leading space",
      "trailing space ",
      "   three leading spaces, and\ttabs\t\tand  runs     of spaces",
      "line one\nline two\r\nline three\n\n\nend\n",
      "Emoji: \xF0\x9F\x98\x80\xF0\x9F\x9A\x80 family \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9"
      "\xE2\x80\x8D\xF0\x9F\x91\xA7 flag \xF0\x9F\x87\xAF\xF0\x9F\x87\xB5 \xF0\x9F\xA6\x99",
      "CJK: \xE6\x88\x91\xE6\x83\xB3\xE5\x9C\xA8" "apple\xE5\xB7\xA5\xE4\xBD\x9C \xE3\x81\x93\xE3\x82\x93"
      "\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF \xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4",
      // q + combining dot above has no precomposed form; Devanagari with virama; Hebrew, Arabic.
      "Marks: q\xCC\x87 \xE0\xA4\xA8\xE0\xA4\xAE\xE0\xA4\xB8\xE0\xA5\x8D\xE0\xA4\xA4\xE0\xA5\x87 "
      "\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D \xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7",
      "Accents: caf\xC3\xA9 na\xC3\xAFve F\xC3\xBChrer C\xE1\xBB\xAD" "a Vi\xE1\xBB\x87t",
      "int main(int argc, char** argv) {\n    return argv[0][0] == '\\0' ? 1 : 0;  // x++\n}\n",
      "def f(x):\n\treturn {'a': [1, 2, 3], \"b\": x ** 2} if x else None\n",
      "Numbers: 3 33 333 3333 1234567890 3.14159 -42 1e-9 \xE2\x85\xA7 \xC2\xBD",
      "Contractions: I'm you're he's we've they'll she'd IT'S",
      "!!!??? ... --- *** ''' \"\"\" <<<>>> ~~~",
      "special-looking text: <s> </s> <|endoftext|> <|im_start|> [CLS] <unk>",
      "\xEF\xBF\xBD replacement char and \xE2\x80\x8B zero width space",
      "",
      " ",
      "\n",
  };
  return *kTexts;
}

// Plain text always round-trips. With parse_special, text after a special token is a new
// segment: SentencePiece vocabularies give it its own "▁" prefix (HF's legacy behavior, so
// "<s> x" decodes as "<s>  x"), hence that variant is only checked for byte-level vocabularies.
void ExpectRoundTrips(const Tokenizer& tok, const std::string& name, bool byte_level) {
  for (const std::string& text : Texts()) {
    for (bool parse_special : {false, true}) {
      if (parse_special && !byte_level) continue;
      auto ids = tok.Encode(text, {.add_special = false, .parse_special = parse_special});
      ASSERT_TRUE(ids.ok()) << ids.status();
      auto back = tok.Decode(*ids, /*skip_special_tokens=*/false);
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_EQ(*back, text) << name << " parse_special=" << parse_special;
    }
  }
}

TEST(TokenizerRoundTrip, HfTokenizers) {
  for (const char* dir : {"llama3", "qwen3", "mistral7b"}) {
    REQUIRE_TOKENIZER(tok, SharedHfTokenizer(dir));
    ExpectRoundTrips(*tok, dir, std::string(dir) != "mistral7b");
  }
}

TEST(TokenizerRoundTrip, GgufVocabularies) {
  for (const char* name : {"llama-spm", "phi-3", "gpt-2", "mpt", "falcon", "starcoder", "refact",
                           "deepseek-llm", "deepseek-coder", "baichuan", "gpt-neox"}) {
    REQUIRE_TOKENIZER(tok, SharedGgufVocab(name));
    const std::string n = name;
    ExpectRoundTrips(*tok, n, n != "llama-spm" && n != "phi-3" && n != "baichuan");
  }
}

TEST(TokenizerSpecial, Llama3SpecialTokensArePlainTextUnlessParsed) {
  REQUIRE_TOKENIZER(tok, SharedHfTokenizer("llama3"));
  const std::string text = "<|begin_of_text|>Hello";
  const TokenId bot = tok->TokenToId("<|begin_of_text|>");
  EXPECT_EQ(bot, 128000);
  // 9906 = "Hello" (llama.cpp's llama-bpe vectors).
  auto parsed = tok->Encode(text, {.add_special = false, .parse_special = true});
  EXPECT_EQ(*parsed, (std::vector<TokenId>{128000, 9906}));
  const auto plain = EncodePlain(*tok, text);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), bot), 0);
  EXPECT_GT(plain.size(), 3u);
  EXPECT_EQ(*tok->Decode(plain), text);
  EXPECT_EQ(*tok->Decode(*parsed), text);
  EXPECT_EQ(*tok->Decode(*parsed, /*skip_special_tokens=*/true), "Hello");
  EXPECT_TRUE(tok->IsSpecial(128000));
  EXPECT_FALSE(tok->IsSpecial(9906));
}

TEST(TokenizerSpecial, QwenChatMarkupAndNonSpecialAddedTokens) {
  REQUIRE_TOKENIZER(tok, SharedHfTokenizer("qwen3"));
  const TokenId im_start = tok->TokenToId("<|im_start|>");
  const TokenId im_end = tok->TokenToId("<|im_end|>");
  const TokenId think = tok->TokenToId("<think>");
  ASSERT_EQ(im_start, 151644);
  ASSERT_EQ(im_end, 151645);
  ASSERT_EQ(think, 151667);
  const std::string text = "<|im_start|>user\nHi<|im_end|>";
  auto parsed = tok->Encode(text, {.add_special = false, .parse_special = true});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, (std::vector<TokenId>{im_start, tok->TokenToId("user"), tok->TokenToId("\xC4\x8A"),
                                           tok->TokenToId("Hi"), im_end}));
  const auto plain = EncodePlain(*tok, text);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), im_start), 0);
  // "<think>" is an added token with special=false: matched even without parse_special, as HF does.
  const auto with_think = EncodePlain(*tok, "<think>\nok</think>");
  EXPECT_EQ(with_think.front(), think);
  EXPECT_EQ(with_think.back(), tok->TokenToId("</think>"));
  EXPECT_FALSE(tok->IsSpecial(think));
  EXPECT_EQ(*tok->Decode(with_think, /*skip_special_tokens=*/true), "<think>\nok</think>");
}

TEST(TokenizerSpecial, MistralSegmentsAfterSpecialTokensGetTheSpacePrefix) {
  REQUIRE_TOKENIZER(tok, SharedHfTokenizer("mistral7b"));
  const TokenId hello = tok->TokenToId("\xE2\x96\x81Hello");
  ASSERT_GE(hello, 0);
  auto ids = tok->Encode("<s>Hello</s>", {.add_special = false, .parse_special = true});
  EXPECT_EQ(*ids, (std::vector<TokenId>{1, hello, 2}));
  EXPECT_EQ(*tok->Decode(*ids), "<s> Hello</s>");
  EXPECT_EQ(*tok->Decode(*ids, true), "Hello");
}

TEST(TokenizerBosEos, FollowsTheFiles) {
  {
    REQUIRE_TOKENIZER(tok, SharedHfTokenizer("mistral7b"));
    EXPECT_TRUE(tok->add_bos());
    EXPECT_FALSE(tok->add_eos());
    EXPECT_EQ(tok->bos_id(), 1);
    EXPECT_EQ(tok->eos_id(), 2);
    EXPECT_EQ(tok->unk_id(), 0);
    EXPECT_EQ(*tok->Encode("Hello"), (std::vector<TokenId>{1, tok->TokenToId("\xE2\x96\x81Hello")}));
    EXPECT_EQ(*tok->Encode(""), (std::vector<TokenId>{1}));
    EXPECT_EQ(tok->bos_token(), "<s>");
    EXPECT_EQ(tok->chat_template(), "");
  }
  {
    // This tokenizer.json's post_processor is plain ByteLevel and tokenizer_config.json has no
    // add_bos_token, so (as with HF) no BOS is added; chat templates write it themselves.
    REQUIRE_TOKENIZER(tok, SharedHfTokenizer("llama3"));
    EXPECT_FALSE(tok->add_bos());
    EXPECT_EQ(tok->bos_id(), 128000);
    EXPECT_EQ(tok->eos_id(), 128001);
    const auto& eos = tok->eos_ids();
    EXPECT_NE(std::find(eos.begin(), eos.end(), 128009), eos.end()) << "<|eot_id|>";
    EXPECT_NE(tok->chat_template().find("<|start_header_id|>"), std::string::npos);
    EXPECT_EQ(tok->vocab_size(), 128256);
  }
  {
    REQUIRE_TOKENIZER(tok, SharedHfTokenizer("qwen3"));
    EXPECT_FALSE(tok->add_bos());
    EXPECT_EQ(tok->bos_id(), -1);
    EXPECT_EQ(tok->eos_id(), 151645);
    EXPECT_EQ(tok->pad_id(), 151643);
    const auto& eos = tok->eos_ids();
    EXPECT_NE(std::find(eos.begin(), eos.end(), 151643), eos.end()) << "<|endoftext|>";
    EXPECT_NE(tok->chat_template().find("<|im_start|>"), std::string::npos);
    EXPECT_EQ(tok->vocab_size(), 151669);
  }
  {
    REQUIRE_TOKENIZER(tok, SharedGgufVocab("llama-spm"));
    // 15043 = "▁Hello" (llama.cpp's llama-spm vectors).
    EXPECT_EQ(*tok->Encode("Hello"), (std::vector<TokenId>{1, 15043}));
    EXPECT_EQ(*tok->Encode("Hello", {.add_special = false}), (std::vector<TokenId>{15043}));
  }
  {
    REQUIRE_TOKENIZER(tok, SharedGgufVocab("phi-3"));
    EXPECT_EQ(tok->eos_id(), 32000);
    const auto& eos = tok->eos_ids();
    EXPECT_NE(std::find(eos.begin(), eos.end(), 32007), eos.end()) << "<|end|>";
    EXPECT_NE(tok->chat_template().find("<|user|>"), std::string::npos);
  }
  {
    REQUIRE_TOKENIZER(tok, SharedGgufVocab("bert-bge"));
    // [CLS] hello world [SEP] (ids from the bert-bge vectors).
    EXPECT_EQ(*tok->Encode("Hello world"), (std::vector<TokenId>{101, 7592, 2088, 102}));
  }
  {
    REQUIRE_TOKENIZER(tok, SharedGgufVocab("deepseek-llm"));
    EXPECT_EQ(tok->Encode("Hello")->front(), 100000);  // add_bos_token = true
  }
}

TEST(TokenizerBosEos, ConfigOverridesTheTemplate) {
  PAGELLM_REQUIRE_SHARED(path, "tokenizers/mistral7b/tokenizer.json");
  auto json = ReadFileToString(path.string());
  ASSERT_TRUE(json.ok());
  auto tok = Tokenizer::FromHfJson(
      *json, R"({"bos_token": "<s>", "eos_token": {"content": "</s>"}, "add_bos_token": false,
                 "add_eos_token": true, "chat_template": [{"name": "default", "template": "A"},
                 {"name": "tool_use", "template": "B"}]})");
  ASSERT_TRUE(tok.ok()) << tok.status();
  auto ids = (*tok)->Encode("Hi");
  EXPECT_EQ(ids->back(), 2);
  EXPECT_NE(ids->front(), 1);
  EXPECT_TRUE((*tok)->add_eos());
  EXPECT_FALSE((*tok)->add_bos());
  EXPECT_EQ((*tok)->chat_template(), "A");
  ASSERT_EQ((*tok)->chat_templates().size(), 2u);
  EXPECT_EQ((*tok)->chat_templates()[1].first, "tool_use");
}

TEST(TokenizerInvalidUtf8, BecomesReplacementCharacters) {
  for (const char* dir : {"llama3", "mistral7b"}) {
    REQUIRE_TOKENIZER(tok, SharedHfTokenizer(dir));
    const std::string fffd = "\xEF\xBF\xBD";
    // Each maximal ill-formed subsequence is one U+FFFD.
    EXPECT_EQ(EncodePlain(*tok, "a\xFF" "b"), EncodePlain(*tok, "a" + fffd + "b"));
    EXPECT_EQ(EncodePlain(*tok, "x\xE2\x82"), EncodePlain(*tok, "x" + fffd));
    EXPECT_EQ(EncodePlain(*tok, "\xC0\xAF"), EncodePlain(*tok, fffd + fffd));
    EXPECT_EQ(EncodePlain(*tok, "\xED\xA0\x80"), EncodePlain(*tok, fffd + fffd + fffd));
    auto back = tok->Decode(EncodePlain(*tok, "ok\xF0\x9F\x98 then"));
    EXPECT_EQ(*back, "ok" + fffd + " then");
  }
}

TEST(TokenizerIds, OutOfRangeIsAnError) {
  REQUIRE_TOKENIZER(tok, SharedHfTokenizer("qwen3"));
  const TokenId n = tok->vocab_size();
  for (TokenId bad : {-1, n, n + 100, std::numeric_limits<TokenId>::max(),
                      std::numeric_limits<TokenId>::min()}) {
    std::vector<TokenId> ids = {100, bad};
    auto d = tok->Decode(ids);
    ASSERT_FALSE(d.ok());
    EXPECT_NE(std::string(d.status().message()).find(std::to_string(bad)), std::string::npos);
    EXPECT_FALSE(tok->TokenPiece(bad).ok());
    EXPECT_FALSE(tok->TokenBytes(bad).ok());
    EXPECT_FALSE(tok->IsSpecial(bad));
  }
  EXPECT_EQ(tok->TokenToId("definitely not a token \xF0\x9F\xA6\x99"), -1);
  EXPECT_EQ(*tok->TokenPiece(tok->TokenToId("\xC4\xA0the")), "\xC4\xA0the");
  EXPECT_EQ(*tok->TokenBytes(tok->TokenToId("\xC4\xA0the")), " the");
}

TEST(TokenizerThreads, ConcurrentEncodeMatchesSerial) {
  REQUIRE_TOKENIZER(tok, SharedHfTokenizer("llama3"));
  std::vector<std::vector<TokenId>> expected;
  for (const auto& t : Texts()) expected.push_back(EncodePlain(*tok, t));
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&] {
      for (int rep = 0; rep < 20; ++rep) {
        for (size_t i = 0; i < Texts().size(); ++i) {
          auto ids = tok->Encode(Texts()[i], {.add_special = false});
          if (!ids.ok() || *ids != expected[i]) ++mismatches;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace pagellm
