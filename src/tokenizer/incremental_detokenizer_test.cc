// IncrementalDetokenizer: streamed text equals Decode, is always valid UTF-8, and never emits
// half a character.
#include "src/tokenizer/incremental_detokenizer.h"

#include <random>

#include "gtest/gtest.h"
#include "src/testing/testing.h"
#include "src/tokenizer/tokenizer_testutil.h"
#include "src/tokenizer/utf8.h"

namespace pagellm {
namespace {

using testing::SharedGgufVocab;
using testing::SharedHfTokenizer;

// Streams `gen` after `prompt` and checks it against Decode of the whole sequence.
void ExpectStreamMatchesDecode(const Tokenizer& tok, const std::vector<TokenId>& prompt,
                               const std::vector<TokenId>& gen, bool skip_special,
                               const std::string& what) {
  IncrementalDetokenizer detok(tok, prompt, skip_special);
  std::string streamed;
  for (TokenId id : gen) {
    auto piece = detok.Next(id);
    ASSERT_TRUE(piece.ok()) << piece.status();
    ASSERT_TRUE(tokenizer::IsValidUtf8(*piece)) << what;
    streamed += *piece;
  }
  const std::string tail = detok.Flush();
  ASSERT_TRUE(tokenizer::IsValidUtf8(tail));
  streamed += tail;
  std::vector<TokenId> all = prompt;
  all.insert(all.end(), gen.begin(), gen.end());
  const std::string full = *tok.Decode(all, skip_special);
  const std::string head = *tok.Decode(prompt, skip_special);
  ASSERT_EQ(full.substr(0, head.size()), head) << what;
  EXPECT_EQ(streamed, full.substr(head.size())) << what << " skip_special=" << skip_special;
}

std::vector<const Tokenizer*> StreamingTokenizers() {
  std::vector<const Tokenizer*> out;
  for (const char* dir : {"mistral7b", "llama3", "qwen3"}) {
    if (const Tokenizer* t = SharedHfTokenizer(dir)) out.push_back(t);
  }
  for (const char* name : {"llama-spm", "bert-bge", "gpt-2"}) {
    if (const Tokenizer* t = SharedGgufVocab(name)) out.push_back(t);
  }
  return out;
}

TEST(IncrementalDetokenizer, RandomTokenStreamsMatchDecode) {
  const auto toks = StreamingTokenizers();
  if (toks.empty()) GTEST_SKIP() << "shared tokenizer data not found";
  std::mt19937 rng(1234);
  for (const Tokenizer* tok : toks) {
    std::uniform_int_distribution<TokenId> any(0, tok->vocab_size() - 1);
    for (bool skip : {true, false}) {
      // From the very start (leading-space rules apply) ...
      std::vector<TokenId> gen(4000);
      for (TokenId& id : gen) id = any(rng);
      ExpectStreamMatchesDecode(*tok, {}, gen, skip, "random, no prompt");
      // ... and after a prompt that ends on a character boundary.
      const std::vector<TokenId> prompt = *tok->Encode("Once upon a time,", {.add_special = true});
      ExpectStreamMatchesDecode(*tok, prompt, gen, skip, "random, after prompt");
    }
  }
}

TEST(IncrementalDetokenizer, ByteFallbackCharactersSplitAcrossTokens) {
  const Tokenizer* tok = SharedHfTokenizer("mistral7b");
  if (tok == nullptr) GTEST_SKIP() << "shared data not found: tokenizers/mistral7b";
  // 🦙 (U+1F999) is not in the vocabulary: it becomes four <0xNN> tokens.
  const std::vector<TokenId> ids = *tok->Encode("a \xF0\x9F\xA6\x99!", {.add_special = false});
  std::vector<TokenId> bytes;
  for (TokenId id : ids) {
    if (tok->token_type(id) == TokenType::kByte) bytes.push_back(id);
  }
  ASSERT_EQ(bytes.size(), 4u);
  std::vector<TokenId> prompt = {1};
  IncrementalDetokenizer detok(*tok, prompt);
  std::string streamed;
  for (TokenId id : ids) {
    const std::string piece = *detok.Next(id);
    if (id == bytes[0] || id == bytes[1] || id == bytes[2]) {
      EXPECT_EQ(piece, "") << "half a character must be held back";
      EXPECT_GT(detok.pending_bytes(), 0u);
    }
    if (id == bytes[3]) {
      EXPECT_EQ(piece, "\xF0\x9F\xA6\x99");
    }
    streamed += piece;
  }
  EXPECT_EQ(streamed, "a \xF0\x9F\xA6\x99!");
  EXPECT_EQ(detok.Flush(), "");

  // Random byte-token soup: valid and invalid sequences alike stream exactly like Decode.
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> coin(0, 9);
  for (int round = 0; round < 50; ++round) {
    std::vector<TokenId> gen;
    for (int k = 0; k < 200; ++k) {
      const int b = coin(rng) < 6 ? 0x80 + byte(rng) % 64 : byte(rng);  // many continuations
      gen.push_back(tok->TokenToId(absl::StrFormat("<0x%02X>", b)));
    }
    ExpectStreamMatchesDecode(*tok, prompt, gen, true, "byte soup");
    ExpectStreamMatchesDecode(*tok, {}, gen, false, "byte soup");
  }
  // An unfinished character at the end of the stream is flushed as U+FFFD.
  IncrementalDetokenizer cut(*tok, prompt);
  EXPECT_EQ(*cut.Next(bytes[0]), "");
  EXPECT_EQ(*cut.Next(bytes[1]), "");
  EXPECT_EQ(cut.Flush(), "\xEF\xBF\xBD");
}

TEST(IncrementalDetokenizer, SentencePieceLeadingSpace) {
  const Tokenizer* tok = SharedHfTokenizer("mistral7b");
  if (tok == nullptr) GTEST_SKIP() << "shared data not found: tokenizers/mistral7b";
  const TokenId once = tok->TokenToId("\xE2\x96\x81Once");
  ASSERT_GE(once, 0);
  std::vector<TokenId> bos = {1};
  IncrementalDetokenizer at_start(*tok, bos);
  EXPECT_EQ(*at_start.Next(once), "Once");  // right after BOS: HF's Strip rule
  IncrementalDetokenizer no_prompt(*tok);
  EXPECT_EQ(*no_prompt.Next(once), "Once");
  std::vector<TokenId> prompt = *tok->Encode("Tell me a story.");
  IncrementalDetokenizer after(*tok, prompt);
  EXPECT_EQ(*after.Next(once), " Once");
  // With specials shown, BOS is text, so the space stays.
  IncrementalDetokenizer shown(*tok, {}, /*skip_special_tokens=*/false);
  EXPECT_EQ(*shown.Next(1), "<s>");
  EXPECT_EQ(*shown.Next(once), " Once");
}

TEST(IncrementalDetokenizer, ByteLevelPartialCharacters) {
  const Tokenizer* tok = SharedHfTokenizer("llama3");
  if (tok == nullptr) GTEST_SKIP() << "shared data not found: tokenizers/llama3";
  // Rare CJK and emoji split into byte-level pieces that are not whole characters.
  const std::string text = "\xE1\x9E\x80\xE1\x9E\xB6 \xF0\x9F\x98\xB6\xE2\x80\x8D\xF0\x9F\x8C\xAB\xEF\xB8\x8F ok";
  const std::vector<TokenId> ids = *tok->Encode(text, {.add_special = false});
  IncrementalDetokenizer detok(*tok);
  std::string streamed;
  int held = 0;
  for (TokenId id : ids) {
    const std::string piece = *detok.Next(id);
    EXPECT_TRUE(tokenizer::IsValidUtf8(piece));
    if (detok.pending_bytes() > 0) ++held;
    streamed += piece;
  }
  streamed += detok.Flush();
  EXPECT_EQ(streamed, text);
  EXPECT_GT(held, 0) << "expected some tokens to end mid-character";
}

TEST(IncrementalDetokenizer, OutOfRangeIdLeavesStateUnchanged) {
  const Tokenizer* tok = SharedHfTokenizer("qwen3");
  if (tok == nullptr) GTEST_SKIP() << "shared data not found: tokenizers/qwen3";
  IncrementalDetokenizer detok(*tok);
  EXPECT_EQ(*detok.Next(tok->TokenToId("Hello")), "Hello");
  EXPECT_FALSE(detok.Next(tok->vocab_size()).ok());
  EXPECT_FALSE(detok.Next(-5).ok());
  EXPECT_EQ(*detok.Next(tok->TokenToId("\xC4\xA0world")), " world");
  // Ids outside the vocabulary in the prompt are ignored.
  std::vector<TokenId> prompt = {-1, 1 << 30, tok->TokenToId("Hi")};
  IncrementalDetokenizer p(*tok, prompt);
  EXPECT_EQ(*p.Next(tok->TokenToId("!")), "!");
}

// First-token rules beyond Strip: a WordPiece decoder ("##" joins, others get a space) and
// Metaspace (drops the first token's leading space), on small tokenizer.json files.
TEST(IncrementalDetokenizer, FirstTokenRulesMatchDecode) {
  const std::string wordpiece = R"({
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "vocab": {"[UNK]": 0, "[CLS]": 1, "play": 2, "##ing": 3, "the": 4, "game": 5}},
    "added_tokens": [{"id": 0, "content": "[UNK]", "special": true},
                     {"id": 1, "content": "[CLS]", "special": true}],
    "normalizer": {"type": "BertNormalizer"}, "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": null, "decoder": {"type": "WordPiece", "prefix": "##"}})";
  const std::string metaspace = R"({
    "model": {"type": "BPE", "vocab": {"\u2581": 0, "a": 1, "b": 2, "\u2581a": 3, "<s>": 4},
              "merges": ["\u2581 a"]},
    "added_tokens": [{"id": 4, "content": "<s>", "special": true}],
    "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always"},
    "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always"}})";
  for (const std::string& json : {wordpiece, metaspace}) {
    auto tok = Tokenizer::FromHfJson(json);
    ASSERT_TRUE(tok.ok()) << tok.status();
    std::mt19937 rng(99);
    std::uniform_int_distribution<TokenId> any(0, (*tok)->vocab_size() - 1);
    for (int round = 0; round < 200; ++round) {
      std::vector<TokenId> gen(1 + round % 9);
      for (TokenId& id : gen) id = any(rng);
      for (bool skip : {true, false}) {
        ExpectStreamMatchesDecode(**tok, {}, gen, skip, "first-token rules");
        ExpectStreamMatchesDecode(**tok, {1}, gen, skip, "first-token rules after a token");
      }
    }
  }
  auto wp = Tokenizer::FromHfJson(wordpiece);
  ASSERT_TRUE(wp.ok());
  const std::vector<TokenId> ids = *(*wp)->Encode("Playing the game");
  EXPECT_EQ(ids, (std::vector<TokenId>{2, 3, 4, 5}));
  EXPECT_EQ(*(*wp)->Decode(ids), "playing the game");
  auto ms = Tokenizer::FromHfJson(metaspace);
  ASSERT_TRUE(ms.ok());
  EXPECT_EQ(*(*ms)->Encode("a ab"), (std::vector<TokenId>{3, 3, 2}));
  EXPECT_EQ(*(*ms)->Decode(std::vector<TokenId>{3, 3, 2}), "a ab");
}

}  // namespace
}  // namespace pagellm
