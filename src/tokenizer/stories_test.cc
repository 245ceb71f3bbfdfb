// stories260K: its tokenizer.json, llama2.c tok512.bin and GGUF vocabulary agree, and the
// published greedy samples decode to their published text.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/base/mapped_file.h"
#include "src/format/gguf.h"
#include "src/testing/testing.h"
#include "src/tokenizer/incremental_detokenizer.h"
#include "src/tokenizer/tokenizer.h"
#include "src/tokenizer/tokenizer_testutil.h"

namespace pagellm {
namespace {

class Stories : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::SharedFile("models/stories260K");
    if (!dir) GTEST_SKIP() << "shared test data not found: models/stories260K";
    auto json = Tokenizer::FromHfFiles((*dir / "hf/tokenizer.json").string(),
                                       (*dir / "hf/tokenizer_config.json").string());
    ASSERT_TRUE(json.ok()) << json.status();
    hf_ = std::move(*json);
    auto bin = Tokenizer::FromLlama2c((*dir / "llama2c/tok512.bin").string(), 512);
    ASSERT_TRUE(bin.ok()) << bin.status();
    llama2c_ = std::move(*bin);
    auto file = GgufFile::Open((*dir / "gguf/stories260K.gguf").string());
    ASSERT_TRUE(file.ok()) << file.status();
    auto gguf = Tokenizer::FromGguf(**file);
    ASSERT_TRUE(gguf.ok()) << gguf.status();
    gguf_ = std::move(*gguf);
    dir_ = *dir;
  }

  // The published greedy sample (run.c output; its trailing "achieved tok/s" is not text).
  std::string GreedyReference() {
    auto text = ReadFileToString((dir_ / "greedy-reference.txt").string());
    EXPECT_TRUE(text.ok());
    std::string s = text.ok() ? *text : "";
    const size_t cut = s.find("achieved tok/s");
    return cut == std::string::npos ? s : s.substr(0, cut);
  }

  std::filesystem::path dir_;
  std::unique_ptr<Tokenizer> hf_, llama2c_, gguf_;
};

TEST_F(Stories, ThreeFormatsGiveIdenticalIds) {
  const std::vector<std::string> texts = {
      GreedyReference(),
      "Once upon a time",
      "Lily's mom said, \"Let's go!\"\nThe end.",
      "  two leading spaces and   runs   of spaces  ",
      "Numbers 12345 and 3.14159, tabs\tand\nnewlines\n\n",
      "Unicode: caf\xC3\xA9, na\xC3\xAFve, \xE4\xBD\xA0\xE5\xA5\xBD, emoji \xF0\x9F\x98\x80!",
      "",
      " ",
  };
  for (const std::string& text : texts) {
    for (bool add_special : {true, false}) {
      const EncodeOptions opt{.add_special = add_special};
      auto a = hf_->Encode(text, opt);
      auto b = llama2c_->Encode(text, opt);
      auto c = gguf_->Encode(text, opt);
      ASSERT_TRUE(a.ok() && b.ok() && c.ok());
      EXPECT_EQ(*a, *b) << "tokenizer.json vs tok512.bin on '" << text << "'";
      EXPECT_EQ(*a, *c) << "tokenizer.json vs GGUF on '" << text << "'";
      if (add_special) {
        ASSERT_FALSE(a->empty());
        EXPECT_EQ(a->front(), 1) << "BOS";
      }
      // Lossless for all three.
      for (const Tokenizer* t : {hf_.get(), llama2c_.get(), gguf_.get()}) {
        auto back = t->Decode(*a, /*skip_special_tokens=*/true);
        ASSERT_TRUE(back.ok());
        EXPECT_EQ(*back, text);
      }
    }
  }
}

TEST_F(Stories, AccessorsAgree) {
  for (const Tokenizer* t : {hf_.get(), llama2c_.get(), gguf_.get()}) {
    EXPECT_EQ(t->vocab_size(), 512);
    EXPECT_EQ(t->bos_id(), 1);
    EXPECT_EQ(t->eos_id(), 2);
    EXPECT_EQ(t->unk_id(), 0);
    EXPECT_TRUE(t->add_bos());
    EXPECT_FALSE(t->add_eos());
    EXPECT_TRUE(t->IsSpecial(1));
    EXPECT_FALSE(t->IsSpecial(403));
    EXPECT_EQ(t->TokenToId("<s>"), 1);
    EXPECT_EQ(t->TokenToId("<0x0A>"), 13);
    EXPECT_EQ(t->eos_ids(), (std::vector<TokenId>{2}));
    for (TokenId id = 0; id < 512; ++id) {
      EXPECT_EQ(*t->TokenPiece(id), *hf_->TokenPiece(id)) << id;
      EXPECT_EQ(*t->TokenBytes(id), *hf_->TokenBytes(id)) << id;
    }
  }
}

TEST_F(Stories, AddEosIdIsChecked) {
  EXPECT_TRUE(hf_->AddEosId(13).ok());
  EXPECT_TRUE(hf_->AddEosId(13).ok());  // no duplicates
  EXPECT_EQ(hf_->eos_ids(), (std::vector<TokenId>{2, 13}));
  EXPECT_FALSE(hf_->AddEosId(512).ok());
  EXPECT_FALSE(hf_->AddEosId(-1).ok());
}

// sample_greedy_pyref.txt: a list of generated ids, then the text they spell. The text is the
// concatenation of the pieces (so it starts with the space of "▁Once"); Decode applies the
// SentencePiece Strip rule and drops that one leading space.
TEST_F(Stories, PythonReferenceSampleDecodes) {
  PAGELLM_REQUIRE_SHARED(path, "models/stories260K/hf/sample_greedy_pyref.txt");
  auto content = ReadFileToString(path.string());
  ASSERT_TRUE(content.ok());
  const size_t nl = content->find('\n');
  ASSERT_NE(nl, std::string::npos);
  std::string list = content->substr(0, nl);
  std::string text = content->substr(nl + 1);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::vector<TokenId> ids;
  for (char& ch : list) {
    if (ch == '[' || ch == ']' || ch == ',') ch = ' ';
  }
  std::istringstream in(list);
  for (int id; in >> id;) ids.push_back(id);
  ASSERT_GT(ids.size(), 10u);
  ASSERT_EQ(text.substr(0, 5), " Once");

  for (const Tokenizer* t : {hf_.get(), llama2c_.get(), gguf_.get()}) {
    std::string pieces;
    for (TokenId id : ids) pieces += std::string(*t->TokenBytes(id));
    EXPECT_EQ(pieces, text);
    EXPECT_EQ(*t->Decode(ids), text.substr(1));
    // Streaming after BOS reads like run.c's output.
    std::vector<TokenId> bos = {1};
    IncrementalDetokenizer detok(*t, bos);
    std::string streamed;
    for (TokenId id : ids) streamed += *detok.Next(id);
    streamed += detok.Flush();
    EXPECT_EQ(streamed, text.substr(1));
    EXPECT_EQ(GreedyReference().substr(0, streamed.size()), streamed);
    // After some other context the leading space stays.
    std::vector<TokenId> ctx = {1, 403};
    IncrementalDetokenizer after(*t, ctx);
    EXPECT_EQ(*after.Next(ids[0]), " Once");
  }
  // The model's greedy output is also what encoding its text gives.
  auto enc = hf_->Encode(text.substr(1), {.add_special = false});
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(*enc, ids);
}

}  // namespace
}  // namespace pagellm
