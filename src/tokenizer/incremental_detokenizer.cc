// IncrementalDetokenizer: the streaming form of Tokenizer::Decode.
#include "src/tokenizer/incremental_detokenizer.h"

namespace pagellm {

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer,
                                               std::span<const TokenId> prompt,
                                               bool skip_special_tokens)
    : tokenizer_(&tokenizer),
      skip_special_(skip_special_tokens),
      strip_remaining_(tokenizer.decode_rules().strip_leading) {
  std::string discard;
  for (TokenId id : prompt) {
    if (id >= 0 && id < tokenizer.vocab_size()) Feed(id, &discard);
  }
}

void IncrementalDetokenizer::Feed(TokenId id, std::string* out) {
  if (skip_special_ && tokenizer_->IsSpecial(id)) return;
  std::string_view bytes = tokenizer_->PieceBytesUnchecked(id, /*first=*/!started_);
  started_ = true;
  const char strip_char = tokenizer_->decode_rules().strip_char;
  while (strip_remaining_ > 0 && !bytes.empty() && bytes.front() == strip_char) {
    bytes.remove_prefix(1);
    --strip_remaining_;
  }
  if (!bytes.empty()) strip_remaining_ = 0;  // the text has started
  utf8_.Feed(bytes, out);
}

StatusOr<std::string> IncrementalDetokenizer::Next(TokenId id) {
  if (id < 0 || id >= tokenizer_->vocab_size()) {
    return InvalidArgument(StrCat("cannot detokenize token id ", id, ": the vocabulary has ",
                                  tokenizer_->vocab_size(), " tokens"));
  }
  std::string out;
  Feed(id, &out);
  return out;
}

std::string IncrementalDetokenizer::Flush() {
  std::string out;
  utf8_.Finish(&out);
  return out;
}

}  // namespace pagellm
