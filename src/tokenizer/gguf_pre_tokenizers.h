// The published pre-tokenizer (and normalizer) of each GGUF "gpt2" vocabulary, by
// tokenizer.ggml.pre name.
#pragma once

#include <string_view>

namespace pagellm::tokenizer {

struct GgufPreTokenizer {
  const char* pre_tokenizer_json;  // HF tokenizer.json "pre_tokenizer"
  const char* normalizer_json;     // HF "normalizer", or nullptr
  bool ignore_merges;              // Llama 3: a piece that is a token is not split
  bool add_bos;                    // default for tokenizer.ggml.add_bos_token (llama.cpp's)
};

// nullptr for names pagellm does not know ("" means "default": GPT-2 splitting, as for
// GGUF files converted before tokenizer.ggml.pre existed).
const GgufPreTokenizer* FindGgufPreTokenizer(std::string_view pre);

}  // namespace pagellm::tokenizer
