// Conformance: llama.cpp's tokenizer test vectors (generated with HF tokenizers) through pagellm.
//
// Each vocabulary's X.gguf.inp / X.gguf.out pair from ../shared/tokenizers/llama.cpp-vocab is
// encoded as llama.cpp's tests/test-tokenizer-0 does (add_special = false, parse_special = false).
// Vectors without a .gguf run through the tokenizer.json with the same vocabulary.
#include <iostream>
#include <string>

#include "gtest/gtest.h"
#include "src/format/gguf.h"
#include "src/testing/testing.h"
#include "src/tokenizer/tokenizer.h"
#include "src/tokenizer/tokenizer_testutil.h"

namespace pagellm {
namespace {

struct Case {
  const char* name;     // vocabulary name in llama.cpp-vocab/ggml-vocab-<name>.gguf.*
  const char* hf_dir;   // nullptr: load the .gguf; else tokenizers/<hf_dir>/tokenizer.json
};

class Conformance : public ::testing::TestWithParam<Case> {};

TEST_P(Conformance, AllVectorsMatch) {
  const Case& c = GetParam();
  const std::string base = StrCat("tokenizers/llama.cpp-vocab/ggml-vocab-", c.name, ".gguf");
  PAGELLM_REQUIRE_SHARED(inp, base + ".inp");
  PAGELLM_REQUIRE_SHARED(out, base + ".out");
  std::unique_ptr<Tokenizer> tok;
  if (c.hf_dir == nullptr) {
    PAGELLM_REQUIRE_SHARED(gguf_path, base);
    auto gguf = GgufFile::Open(gguf_path.string());
    ASSERT_TRUE(gguf.ok()) << gguf.status();
    auto t = Tokenizer::FromGguf(**gguf);
    ASSERT_TRUE(t.ok()) << t.status();
    tok = std::move(*t);
  } else {
    const std::string dir = StrCat("tokenizers/", c.hf_dir);
    PAGELLM_REQUIRE_SHARED(json, dir + "/tokenizer.json");
    PAGELLM_REQUIRE_SHARED(config, dir + "/tokenizer_config.json");
    auto t = Tokenizer::FromHfFiles(json.string(), config.string());
    ASSERT_TRUE(t.ok()) << t.status();
    tok = std::move(*t);
  }
  auto vectors = testing::ReadVocabVectors(inp, out);
  ASSERT_TRUE(vectors.ok()) << vectors.status();
  ASSERT_FALSE(vectors->empty());
  int pass = 0;
  for (const auto& v : *vectors) {
    const std::vector<TokenId> ids = testing::EncodePlain(*tok, v.text);
    if (ids == v.ids) {
      ++pass;
    } else {
      ADD_FAILURE() << c.name << ": '" << v.text << "'\n  expected " << testing::IdsToString(v.ids)
                    << "\n  got      " << testing::IdsToString(ids);
    }
  }
  std::cout << "[conformance] " << c.name << (c.hf_dir ? StrCat(" (", c.hf_dir, "/tokenizer.json)") : " (gguf)")
            << ": " << pass << "/" << vectors->size() << " vectors pass\n";
  RecordProperty("vectors_passed", pass);
  RecordProperty("vectors_total", static_cast<int>(vectors->size()));
}

INSTANTIATE_TEST_SUITE_P(
    LlamaCppVectors, Conformance,
    ::testing::Values(Case{"llama-spm", nullptr}, Case{"phi-3", nullptr},
                      Case{"gpt-2", nullptr}, Case{"mpt", nullptr},
                      Case{"falcon", nullptr}, Case{"starcoder", nullptr},
                      Case{"refact", nullptr}, Case{"deepseek-llm", nullptr},
                      Case{"deepseek-coder", nullptr}, Case{"bert-bge", nullptr},
                      Case{"llama-bpe", "llama3"}, Case{"qwen2", "qwen3"}),
    [](const ::testing::TestParamInfo<Case>& info) {
      std::string n = info.param.name;
      for (char& ch : n) {
        if (ch == '-') ch = '_';
      }
      return n;
    });

}  // namespace
}  // namespace pagellm
