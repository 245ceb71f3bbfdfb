// PreTokenizer: the HF tokenizers pre-tokenizer pipeline (tokenizer.json "pre_tokenizer"), which
// cuts a normalized segment into the pieces the model encodes independently.
//
// Supported types: Split (String or Regex pattern; behaviors Removed, Isolated,
// MergedWithPrevious, MergedWithNext, Contiguous; invert), ByteLevel (add_prefix_space,
// use_regex with the GPT-2 pattern; maps bytes to the byte-level alphabet), Digits, Punctuation,
// Metaspace (replacement, prepend_scheme always/first/never or legacy add_prefix_space, split),
// Whitespace, WhitespaceSplit, BertPreTokenizer, CharDelimiterSplit and Sequence. Anything else
// is an Unimplemented error naming the type.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/status.h"
#include "src/tokenizer/json_util.h"
#include "src/tokenizer/regex.h"

namespace pagellm::tokenizer {

// GPT-2's pre-tokenizer pattern (HF ByteLevel with use_regex).
inline constexpr std::string_view kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

class PreTokenizer {
 public:
  // `j` is the "pre_tokenizer" value; null yields an identity pre-tokenizer (one piece).
  static StatusOr<std::unique_ptr<PreTokenizer>> FromJson(const Json& j, std::string_view where);

  bool empty() const { return steps_.empty(); }
  // True if a ByteLevel step maps bytes to the byte-level alphabet.
  bool byte_level() const { return byte_level_; }

  // Cuts `text` (valid UTF-8) into non-empty pieces appended to `pieces`. `first_segment` says
  // the text starts at the beginning of the input (Metaspace prepend_scheme "first").
  Status Apply(std::string_view text, bool first_segment, std::vector<std::string>* pieces) const;

 private:
  enum class Kind {
    kSplitRegex, kSplitString, kByteLevel, kDigits, kPunctuation, kMetaspace, kWhitespace,
    kWhitespaceSplit, kBert, kCharDelimiter,
  };
  enum class Prepend { kAlways, kFirst, kNever };
  struct Step {
    Kind kind = Kind::kSplitRegex;
    SplitBehavior behavior = SplitBehavior::kIsolated;
    bool invert = false;
    std::unique_ptr<Regex> regex;  // kSplitRegex, kByteLevel with use_regex, kWhitespace
    std::string literal;           // kSplitString, kMetaspace replacement, kCharDelimiter
    bool add_prefix_space = false;  // kByteLevel
    bool individual_digits = false;
    Prepend prepend = Prepend::kAlways;  // kMetaspace
    bool split = true;                   // kMetaspace
  };
  Status Parse(const Json& j, std::string_view where, int depth);
  Status ApplyStep(const Step& step, std::string_view piece, bool first_segment,
                   std::vector<std::string>* out) const;

  std::vector<Step> steps_;
  bool byte_level_ = false;
};

// A span of a piece and whether it matched the split pattern.
struct SplitSpan {
  size_t begin = 0;
  size_t end = 0;
  bool is_match = false;
};

// Applies HF's SplitDelimiterBehavior to the spans (covering `text` in order), appending the
// resulting non-empty pieces.
void SplitBySpans(std::string_view text, std::vector<SplitSpan> spans, SplitBehavior behavior,
                  std::vector<std::string>* out);

}  // namespace pagellm::tokenizer
