// Regex: a compiled Oniguruma pattern (UTF-8, Oniguruma's default syntax - the engine and syntax
// HF tokenizers uses), used for Split pre-tokenizers and Replace normalizers.
//
// Thread safety: compilation is serialized internally; a compiled Regex is immutable and
// FindAll may be called from many threads at once (each call has its own match region).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/base/status.h"

namespace pagellm::tokenizer {

class Regex {
 public:
  // InvalidArgument naming the pattern and Oniguruma's message when it does not compile.
  static StatusOr<std::unique_ptr<Regex>> Compile(std::string_view pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Byte ranges [begin, end) of the successive non-overlapping, non-empty matches in `text`
  // (valid UTF-8), left to right. Empty matches are skipped (the search moves on one
  // character). An error only if Oniguruma reports one (e.g. its backtracking limit).
  Status FindAll(std::string_view text, std::vector<std::pair<size_t, size_t>>* matches) const;

  const std::string& pattern() const { return pattern_; }

 private:
  Regex(std::string pattern, void* re) : pattern_(std::move(pattern)), re_(re) {}
  std::string pattern_;
  void* re_;  // OnigRegex (kept opaque so oniguruma.h stays out of this header)
};

}  // namespace pagellm::tokenizer
