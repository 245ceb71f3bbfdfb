// AddedTokenMatcher: finds added tokens (special and user-defined tokens) in text before the
// model sees it, the way HF's AddedVocabulary does.
//
// Matching is leftmost-longest over a byte trie. A token is a candidate when it is non-special
// (HF special=false, GGUF user_defined: always matched, as HF and llama.cpp do) or when special
// tokens are being parsed. lstrip/rstrip extend a match over adjacent white space (which is
// then dropped); single_word requires no word character right before and after the match;
// `normalized` tokens are matched in the normalized text, the others in the raw text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/types.h"

namespace pagellm::tokenizer {

struct AddedToken {
  TokenId id = -1;
  std::string content;
  bool special = true;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool single_word = false;
};

// A piece of the input: either an added token or a text span [begin, end).
struct Segment {
  TokenId token = -1;  // >= 0 for an added token
  size_t begin = 0;
  size_t end = 0;
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  // Splits `text` into segments. Considers tokens whose `normalized` flag equals
  // `normalized_phase`, and special ones only if `parse_special`.
  void Split(std::string_view text, bool parse_special, bool normalized_phase,
             std::vector<Segment>* out) const;
  bool has_normalized() const { return has_normalized_; }
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
    int32_t token_idx = -1;
  };
  int32_t Child(int32_t node, uint8_t b) const;
  bool Acceptable(const AddedToken& t, bool parse_special, bool normalized_phase) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_;
  bool has_normalized_ = false;
};

}  // namespace pagellm::tokenizer
