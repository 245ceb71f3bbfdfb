// Normalizer: the HF tokenizers normalizer pipeline (tokenizer.json "normalizer").
//
// Supported types: NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Prepend, Replace
// (String or Regex pattern), BertNormalizer, Precompiled with a null charsmap (a no-op), and
// Sequence of those. Anything else is an Unimplemented error naming the type.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/status.h"
#include "src/tokenizer/json_util.h"
#include "src/tokenizer/regex.h"
#include "src/tokenizer/unicode.h"

namespace pagellm::tokenizer {

class Normalizer {
 public:
  // `j` is the "normalizer" value; null yields an empty (identity) normalizer.
  static StatusOr<std::unique_ptr<Normalizer>> FromJson(const Json& j, std::string_view where);

  // Builders for vocabularies without tokenizer.json (GGUF).
  void AddForm(NormalForm form);
  void AddPrepend(std::string prefix);
  void AddReplace(std::string pattern, std::string content);  // literal pattern
  void AddBert(bool clean_text, bool handle_chinese_chars, bool strip_accents, bool lowercase);

  bool empty() const { return steps_.empty(); }
  // Normalizes one segment of valid UTF-8 text (between added tokens).
  std::string Apply(std::string_view text) const;

 private:
  enum class Kind { kForm, kLowercase, kStrip, kStripAccents, kPrepend, kReplace, kBert };
  struct Step {
    Kind kind = Kind::kForm;
    NormalForm form = NormalForm::kNFC;
    std::string a;  // Prepend: prefix; Replace: literal pattern
    std::string b;  // Replace: content
    std::unique_ptr<Regex> regex;  // Replace with a Regex pattern
    bool left = false, right = false;  // Strip
    bool clean_text = false, chinese = false, strip_accents = false, lowercase = false;  // Bert
  };
  Status Parse(const Json& j, std::string_view where, int depth);
  void ApplyStep(const Step& step, std::string* text) const;

  std::vector<Step> steps_;
};

// Replaces every non-overlapping occurrence of `pattern` (non-empty) in `text`, left to right.
std::string ReplaceAll(std::string_view text, std::string_view pattern, std::string_view content);

}  // namespace pagellm::tokenizer
