// Malformed tokenizer.json / tokenizer_config.json / tokenizer.bin / GGUF vocabularies: each gives
// an error Status naming the problem; random corruption never crashes.
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/format/gguf.h"
#include "src/format/gguf_writer.h"
#include "src/tokenizer/tokenizer.h"

namespace pagellm {
namespace {

using Json = nlohmann::json;

// A small valid byte-less BPE tokenizer.json.
Json BaseJson() {
  return Json::parse(R"({
    "version": "1.0",
    "added_tokens": [{"id": 3, "content": "<unk>", "special": true}],
    "normalizer": null, "pre_tokenizer": null, "post_processor": null, "decoder": null,
    "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": false,
              "vocab": {"a": 0, "b": 1, "ab": 2, "<unk>": 3}, "merges": ["a b"]}})");
}

void ExpectError(const StatusOr<std::unique_ptr<Tokenizer>>& t, const std::string& needle,
                 const std::string& what) {
  ASSERT_FALSE(t.ok()) << what << ": expected an error mentioning '" << needle << "'";
  EXPECT_NE(std::string(t.status().message()).find(needle), std::string::npos)
      << what << ": message was: " << t.status().message();
}

TEST(Malformed, BaseJsonIsValid) {
  auto t = Tokenizer::FromHfJson(BaseJson().dump());
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*(*t)->Encode("abba"), (std::vector<TokenId>{2, 1, 0}));
  EXPECT_EQ(*(*t)->Encode("xa"), (std::vector<TokenId>{3, 0}));
}

TEST(Malformed, TokenizerJsonVariants) {
  struct Variant {
    const char* what;
    std::function<void(Json&)> mutate;
    const char* needle;
  };
  const std::vector<Variant> variants = {
      {"no model", [](Json& j) { j.erase("model"); }, "no model"},
      {"vocab is an array", [](Json& j) { j["model"]["vocab"] = Json::array({"a"}); },
       "model.vocab must be an object"},
      {"id is a string", [](Json& j) { j["model"]["vocab"]["a"] = "0"; }, "must be an integer"},
      {"id is fractional", [](Json& j) { j["model"]["vocab"]["a"] = 0.5; }, "must be an integer"},
      {"negative id", [](Json& j) { j["model"]["vocab"]["a"] = -1; }, "not a valid token id"},
      {"huge id", [](Json& j) { j["model"]["vocab"]["a"] = int64_t{1} << 40; },
       "not a valid token id"},
      {"sparse id", [](Json& j) { j["model"]["vocab"]["a"] = 3000000; }, "far beyond"},
      {"duplicate id", [](Json& j) { j["model"]["vocab"]["b"] = 0; }, "assigns id 0 twice"},
      {"merge of an unknown piece", [](Json& j) { j["model"]["merges"].push_back("a c"); },
       "not in the vocabulary"},
      {"merge result unknown", [](Json& j) { j["model"]["merges"].push_back("b a"); },
       "produces 'ba'"},
      {"merge without space", [](Json& j) { j["model"]["merges"].push_back("ab"); },
       "is not \"left right\""},
      {"merge is a number", [](Json& j) { j["model"]["merges"].push_back(5); },
       "must be a string"},
      {"merges not an array", [](Json& j) { j["model"]["merges"] = "a b"; },
       "model.merges must be an array"},
      {"unknown model type", [](Json& j) { j["model"]["type"] = "Unigram"; },
       "model type 'Unigram'"},
      {"unk_token not in vocab", [](Json& j) { j["model"]["unk_token"] = "[UNK]"; }, "unk_token"},
      {"byte_fallback not a bool", [](Json& j) { j["model"]["byte_fallback"] = "yes"; },
       "byte_fallback must be a boolean"},
      {"dropout", [](Json& j) { j["model"]["dropout"] = 0.1; }, "dropout"},
      {"added token without content", [](Json& j) { j["added_tokens"][0].erase("content"); },
       "needs id and content"},
      {"added token id out of range", [](Json& j) { j["added_tokens"][0]["id"] = -7; },
       "not a valid token id"},
      {"unknown normalizer", [](Json& j) { j["normalizer"] = {{"type", "Frobnicate"}}; },
       "normalizer type 'Frobnicate'"},
      {"normalizer not an object", [](Json& j) { j["normalizer"] = "NFC"; }, "must be an object"},
      {"unknown pre-tokenizer", [](Json& j) { j["pre_tokenizer"] = {{"type", "UnicodeScripts"}}; },
       "pre-tokenizer type 'UnicodeScripts'"},
      {"bad split regex",
       [](Json& j) {
         j["pre_tokenizer"] = Json::parse(
             R"({"type":"Split","pattern":{"Regex":"(unclosed"},"behavior":"Isolated"})");
       },
       "does not compile"},
      {"bad split behavior",
       [](Json& j) {
         j["pre_tokenizer"] = Json::parse(
             R"({"type":"Split","pattern":{"String":"x"},"behavior":"Sideways"})");
       },
       "unknown behavior 'Sideways'"},
      {"unknown decoder", [](Json& j) { j["decoder"] = {{"type", "CTC"}}; }, "decoder type 'CTC'"},
      {"component without type", [](Json& j) { j["decoder"] = Json::object(); },
       "has no \"type\""},
      {"template names a missing token",
       [](Json& j) {
         j["post_processor"] = Json::parse(
             R"({"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>"}},
                 {"Sequence":{"id":"A"}}],"special_tokens":{}})");
       },
       "missing from special_tokens"},
      {"template id out of range",
       [](Json& j) {
         j["post_processor"] = Json::parse(
             R"({"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>"}},
                 {"Sequence":{"id":"A"}}],"special_tokens":{"<s>":{"id":"<s>","ids":[99]}}})");
       },
       "id 99 is outside the vocabulary"},
      {"deeply nested sequences",
       [](Json& j) {
         Json n = {{"type", "NFC"}};
         for (int i = 0; i < 40; ++i) n = {{"type", "Sequence"}, {"normalizers", {n}}};
         j["normalizer"] = n;
       },
       "too deeply"},
  };
  for (const Variant& v : variants) {
    Json j = BaseJson();
    v.mutate(j);
    ExpectError(Tokenizer::FromHfJson(j.dump()), v.needle, v.what);
  }
  ExpectError(Tokenizer::FromHfJson("{\"model\": {"), "not valid JSON", "truncated JSON");
  ExpectError(Tokenizer::FromHfJson("[1, 2]"), "top level", "array at top level");
  ExpectError(Tokenizer::FromHfJson(""), "not valid JSON", "empty");
  ExpectError(Tokenizer::FromHfFiles("/nonexistent/tokenizer.json"), "/nonexistent", "no file");
}

TEST(Malformed, TokenizerConfigVariants) {
  const std::string json = BaseJson().dump();
  ExpectError(Tokenizer::FromHfJson(json, "{oops"), "tokenizer_config.json: not valid JSON", "bad");
  ExpectError(Tokenizer::FromHfJson(json, R"({"bos_token": "<s>"})"), "bos_token '<s>'", "bos");
  ExpectError(Tokenizer::FromHfJson(json, R"({"eos_token": 5})"), "eos_token", "eos type");
  ExpectError(Tokenizer::FromHfJson(json, R"({"add_bos_token": true})"), "add_bos_token",
              "add_bos without bos");
  ExpectError(Tokenizer::FromHfJson(json, R"({"add_eos_token": "yes"})"), "must be a boolean",
              "add_eos type");
  ExpectError(Tokenizer::FromHfJson(json, R"({"chat_template": 3})"), "chat_template", "tmpl");
  ExpectError(Tokenizer::FromHfJson(json, R"({"chat_template": [{"name": "x"}]})"),
              "needs name and template", "named tmpl");
}

// --- llama2.c tokenizer.bin ----------------------------------------------------------------

struct TokBin {
  int32_t max_len = 7;
  std::vector<std::pair<float, std::string>> tokens;

  static TokBin Valid() {
    TokBin t;
    t.tokens = {{0, "<unk>"}, {0, "\n<s>\n"}, {0, "\n</s>\n"}};
    for (int b = 0; b < 256; ++b) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
      t.tokens.push_back({0, buf});
    }
    t.tokens.push_back({-1, " "});
    t.tokens.push_back({-2, "a"});
    t.tokens.push_back({-3, " a"});
    return t;
  }
  std::vector<uint8_t> Bytes() const {
    std::vector<uint8_t> out;
    auto put = [&](const void* p, size_t n) {
      out.insert(out.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
    };
    put(&max_len, 4);
    for (const auto& [score, s] : tokens) {
      const int32_t len = static_cast<int32_t>(s.size());
      put(&score, 4);
      put(&len, 4);
      put(s.data(), s.size());
    }
    return out;
  }
  int size() const { return static_cast<int>(tokens.size()); }
};

TEST(Malformed, Llama2cVariants) {
  const TokBin valid = TokBin::Valid();
  const std::vector<uint8_t> bytes = valid.Bytes();
  {
    auto t = Tokenizer::FromLlama2cBytes(bytes, valid.size());
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(*(*t)->Encode("a a", {.add_special = false}), (std::vector<TokenId>{261, 261}));
  }
  ExpectError(Tokenizer::FromLlama2cBytes({}, valid.size()), "truncated", "empty file");
  ExpectError(Tokenizer::FromLlama2cBytes(std::span(bytes).first(4), valid.size()), "cannot hold",
              "header only");
  ExpectError(Tokenizer::FromLlama2cBytes(std::span(bytes).first(bytes.size() - 1), valid.size()),
              "truncated", "cut piece");
  ExpectError(Tokenizer::FromLlama2cBytes(bytes, 100), "must be in [259", "small vocab");
  ExpectError(Tokenizer::FromLlama2cBytes(bytes, 1 << 30), "vocab_size", "huge vocab");
  ExpectError(Tokenizer::FromLlama2cBytes(bytes, valid.size() + 40), "truncated",
              "vocab larger than the file");
  ExpectError(Tokenizer::FromLlama2cBytes(bytes, valid.size() - 1), "unexpected bytes",
              "trailing bytes");
  {
    TokBin t = valid;
    t.max_len = -3;
    ExpectError(Tokenizer::FromLlama2cBytes(t.Bytes(), t.size()), "max_token_length", "neg max");
  }
  {
    TokBin t = valid;
    t.max_len = 2;
    ExpectError(Tokenizer::FromLlama2cBytes(t.Bytes(), t.size()), "has length", "len > max");
  }
  {
    std::vector<uint8_t> b = bytes;
    const int32_t neg = -5;
    std::memcpy(b.data() + 4 + 4, &neg, 4);  // length of token 0
    ExpectError(Tokenizer::FromLlama2cBytes(b, valid.size()), "has length -5", "negative len");
  }
  {
    TokBin t = valid;
    t.tokens[3].second = "x";
    ExpectError(Tokenizer::FromLlama2cBytes(t.Bytes(), t.size()), "byte token <0x00>",
                "no byte tokens");
  }
  ExpectError(Tokenizer::FromLlama2c("/nonexistent/tok512.bin", 512), "/nonexistent", "no file");
}

// --- GGUF ------------------------------------------------------------------------------------

struct GgufVocab {
  GgufWriter w;
  GgufVocab() {
    const std::vector<std::string> tokens = {"a", "b", "ab", "<|end|>", "\xC4\xA0"};
    w.SetString("tokenizer.ggml.model", "gpt2");
    w.SetString("tokenizer.ggml.pre", "gpt-2");
    w.SetStringArray("tokenizer.ggml.tokens", tokens);
    const std::vector<std::string> merges = {"a b"};
    w.SetStringArray("tokenizer.ggml.merges", merges);
    const std::vector<int32_t> types = {1, 1, 1, 3, 1};
    w.SetInt32Array("tokenizer.ggml.token_type", types);
    w.SetUint32("tokenizer.ggml.eos_token_id", 3);
  }
  StatusOr<std::unique_ptr<Tokenizer>> Load() {
    auto bytes = w.Serialize({});
    if (!bytes.ok()) return bytes.status();
    bytes_ = std::move(*bytes);
    auto gguf = GgufFile::Parse(bytes_);
    if (!gguf.ok()) return gguf.status();
    return Tokenizer::FromGguf(**gguf);
  }
  std::vector<uint8_t> bytes_;
};

TEST(Malformed, GgufVariants) {
  {
    GgufVocab v;
    auto t = v.Load();
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(*(*t)->Encode("ab a"), (std::vector<TokenId>{2, 4, 0}));
    EXPECT_EQ((*t)->eos_id(), 3);
  }
  struct Variant {
    const char* what;
    std::function<void(GgufWriter&)> mutate;
    const char* needle;
  };
  const std::vector<Variant> variants = {
      {"unknown model", [](GgufWriter& w) { w.SetString("tokenizer.ggml.model", "t5"); },
       "tokenizer.ggml.model 't5'"},
      {"unknown pre", [](GgufWriter& w) { w.SetString("tokenizer.ggml.pre", "frobnicate"); },
       "tokenizer.ggml.pre 'frobnicate'"},
      {"merge of unknown piece",
       [](GgufWriter& w) {
         const std::vector<std::string> m = {"a z"};
         w.SetStringArray("tokenizer.ggml.merges", m);
       },
       "not in the vocabulary"},
      {"merge without space",
       [](GgufWriter& w) {
         const std::vector<std::string> m = {"ab"};
         w.SetStringArray("tokenizer.ggml.merges", m);
       },
       "is not \"left right\""},
      {"short token types",
       [](GgufWriter& w) {
         const std::vector<int32_t> t = {1};
         w.SetInt32Array("tokenizer.ggml.token_type", t);
       },
       "shorter"},
      {"scores are strings",
       [](GgufWriter& w) {
         const std::vector<std::string> s = {"x", "y", "z", "u", "v"};
         w.SetStringArray("tokenizer.ggml.scores", s);
       },
       "tokenizer.ggml.scores"},
      {"short scores",
       [](GgufWriter& w) {
         const std::vector<float> s = {0.5f};
         w.SetFloat32Array("tokenizer.ggml.scores", s);
       },
       "tokenizer.ggml.scores"},
      {"empty vocabulary",
       [](GgufWriter& w) { w.SetStringArray("tokenizer.ggml.tokens", std::vector<std::string>{}); },
       "empty"},
      {"tokens not an array", [](GgufWriter& w) { w.SetString("tokenizer.ggml.tokens", "a b"); },
       "tokenizer.ggml.tokens"},
      {"add_bos without bos", [](GgufWriter& w) { w.SetBool("tokenizer.ggml.add_bos_token", true); },
       "add_bos_token"},
      {"model of the wrong type", [](GgufWriter& w) { w.SetUint32("tokenizer.ggml.model", 1); },
       "tokenizer.ggml.model"},
  };
  for (const Variant& variant : variants) {
    GgufVocab v;
    variant.mutate(v.w);
    ExpectError(v.Load(), variant.needle, variant.what);
  }
}

// Random corruption of valid inputs: any outcome but a crash is fine.
TEST(Malformed, RandomCorruptionNeverCrashes) {
  std::mt19937 rng(42);
  const std::string json = BaseJson().dump();
  const std::vector<uint8_t> bin = TokBin::Valid().Bytes();
  int rejected = 0;
  for (int round = 0; round < 400; ++round) {
    std::string j = json;
    std::vector<uint8_t> b = bin;
    std::uniform_int_distribution<int> byte(0, 255);
    for (int k = 0; k < 1 + round % 4; ++k) {
      j[std::uniform_int_distribution<size_t>(0, j.size() - 1)(rng)] = static_cast<char>(byte(rng));
      b[std::uniform_int_distribution<size_t>(0, b.size() - 1)(rng)] = static_cast<uint8_t>(byte(rng));
    }
    for (int which = 0; which < 2; ++which) {
      auto t = which == 0 ? Tokenizer::FromHfJson(j)
                          : Tokenizer::FromLlama2cBytes(b, TokBin::Valid().size());
      if (!t.ok()) {
        ++rejected;
        continue;
      }
      auto ids = (*t)->Encode("a b ab\xF0\x9F\x98\x80", {.parse_special = true});
      ASSERT_TRUE(ids.ok());
      ASSERT_TRUE((*t)->Decode(*ids).ok());
    }
  }
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace pagellm
