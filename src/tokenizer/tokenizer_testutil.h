// Test helpers for src/tokenizer: llama.cpp tokenizer test vectors and shared-data loaders.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "src/base/status.h"
#include "src/base/types.h"
#include "src/tokenizer/tokenizer.h"

namespace pagellm::testing {

// One llama.cpp test vector: the input text and the expected ids (add_special = false,
// parse_special = false).
struct VocabVector {
  std::string text;
  std::vector<TokenId> ids;
};

// Reads X.inp / X.out as llama.cpp's tests/test-tokenizer-0 does: inputs are separated by
// "\n__ggml_vocab_test__\n" (a trailing separator ends the list), outputs are one line of
// space-separated ids per input.
StatusOr<std::vector<VocabVector>> ReadVocabVectors(const std::filesystem::path& inp,
                                                    const std::filesystem::path& out);

// Ids as "[1, 2, 3]" for failure messages.
std::string IdsToString(const std::vector<TokenId>& ids);

// Encodes without BOS/EOS and without parsing special tokens; aborts the test on error.
std::vector<TokenId> EncodePlain(const Tokenizer& tok, const std::string& text);

// Shared tokenizers, loaded once per test binary and cached. nullptr when ../shared lacks the
// files (the caller skips); a load error is reported with ADD_FAILURE and also yields nullptr.
//   SharedHfTokenizer("llama3")        tokenizers/llama3/tokenizer.json + tokenizer_config.json
//   SharedGgufVocab("llama-spm")       tokenizers/llama.cpp-vocab/ggml-vocab-llama-spm.gguf
const Tokenizer* SharedHfTokenizer(const std::string& dir);
const Tokenizer* SharedGgufVocab(const std::string& name);

}  // namespace pagellm::testing
