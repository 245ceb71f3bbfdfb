// IncrementalDetokenizer: streams the text of generated tokens one token at a time.
//
// Contract: each Next() returns only text that is complete UTF-8 (never half a character: bytes
// of an unfinished character, e.g. the first <0xE2> of three byte-fallback tokens, are held
// back), and
//     concat(all Next() results) + Flush()  ==  Decode(prompt + generated) minus Decode(prompt)
// for the same skip_special_tokens (exactly, whenever Decode(prompt) ends on a character
// boundary, which real prompts do). SentencePiece leading-space handling follows Decode: after a
// prompt, "▁Once" yields " Once"; with nothing decoded before it (no prompt, or only skipped
// specials such as BOS) the Strip rule removes the space and the text starts "Once".
//
// Cost: O(1) per token, independent of the sequence length. vLLM re-decodes a window of tokens
// (prefix_offset..read_offset) to learn what the new token adds; pagellm's decoders are per-token
// plus "first token" / "leading strip" rules (see decoder.h), so the only context needed is
// whether text has started and the <= 3 bytes of an unfinished UTF-8 character.
#pragma once

#include <span>
#include <string>

#include "src/base/status.h"
#include "src/base/types.h"
#include "src/tokenizer/tokenizer.h"
#include "src/tokenizer/utf8.h"

namespace pagellm {

class IncrementalDetokenizer {
 public:
  // `tokenizer` must outlive this object. `prompt` tokens are context: their text is not
  // returned (ids outside the vocabulary in the prompt are ignored).
  explicit IncrementalDetokenizer(const Tokenizer& tokenizer, std::span<const TokenId> prompt = {},
                                  bool skip_special_tokens = true);

  // Feeds one generated token and returns the text it completes (often empty). An id outside
  // the vocabulary is InvalidArgument and leaves the state unchanged.
  StatusOr<std::string> Next(TokenId id);
  // End of stream: returns held-back bytes of an unfinished character as U+FFFD ("" if none).
  std::string Flush();

  // Number of bytes held back waiting for the rest of a character.
  size_t pending_bytes() const { return utf8_.pending(); }

 private:
  void Feed(TokenId id, std::string* out);

  const Tokenizer* tokenizer_;
  bool skip_special_;
  bool started_ = false;      // a (non-skipped) token has been decoded: "first" rules are done
  int strip_remaining_ = 0;   // leading strip characters still to remove
  tokenizer::Utf8Decoder utf8_;
};

}  // namespace pagellm
