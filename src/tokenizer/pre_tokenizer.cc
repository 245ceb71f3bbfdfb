// PreTokenizer: parsing HF pre-tokenizer JSON and splitting text the way HF tokenizers does.
#include "src/tokenizer/pre_tokenizer.h"

#include <algorithm>

#include "src/tokenizer/normalizer.h"
#include "src/tokenizer/unicode.h"
#include "src/tokenizer/utf8.h"

namespace pagellm::tokenizer {
namespace {

constexpr int kMaxNesting = 16;
constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // U+2581

StatusOr<SplitBehavior> ParseBehavior(const Json& j, std::string_view where,
                                      SplitBehavior def) {
  const Json* b = JsonFind(j, "behavior");
  if (b == nullptr || b->is_null()) return def;
  ASSIGN_OR_RETURN(std::string s, JsonString(*b, StrCat(where, ".behavior")));
  if (s == "Removed") return SplitBehavior::kRemoved;
  if (s == "Isolated") return SplitBehavior::kIsolated;
  if (s == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (s == "Contiguous") return SplitBehavior::kContiguous;
  return JsonError(where, StrCat("has unknown behavior '", s, "'"));
}

// Spans for a per-character predicate, as HF's `Fn(char) -> bool` pattern: every matching
// character is its own span; runs of other characters form one span.
template <typename Pred>
std::vector<SplitSpan> CharSpans(std::string_view text, Pred pred) {
  std::vector<SplitSpan> spans;
  size_t pos = 0, run_start = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    const char32_t cp = NextCodepoint(text, &pos);
    if (pred(cp)) {
      if (run_start < start) spans.push_back({run_start, start, false});
      spans.push_back({start, pos, true});
      run_start = pos;
    }
  }
  if (run_start < text.size()) spans.push_back({run_start, text.size(), false});
  return spans;
}

// Spans for a list of matches (sorted, non-overlapping).
std::vector<SplitSpan> MatchSpans(std::string_view text,
                                  const std::vector<std::pair<size_t, size_t>>& matches) {
  std::vector<SplitSpan> spans;
  size_t prev = 0;
  for (const auto& [b, e] : matches) {
    if (prev < b) spans.push_back({prev, b, false});
    spans.push_back({b, e, true});
    prev = e;
  }
  if (prev < text.size()) spans.push_back({prev, text.size(), false});
  return spans;
}

std::vector<SplitSpan> LiteralSpans(std::string_view text, std::string_view literal) {
  std::vector<std::pair<size_t, size_t>> matches;
  size_t pos = 0;
  while ((pos = text.find(literal, pos)) != std::string_view::npos) {
    matches.emplace_back(pos, pos + literal.size());
    pos += literal.size();
  }
  return MatchSpans(text, matches);
}

std::string ToByteLevel(std::string_view piece) {
  const ByteLevelAlphabet& alphabet = GetByteLevelAlphabet();
  std::string out;
  out.reserve(piece.size() * 2);
  for (char c : piece) out.append(alphabet.byte_to_utf8[static_cast<uint8_t>(c)]);
  return out;
}

}  // namespace

void SplitBySpans(std::string_view text, std::vector<SplitSpan> spans, SplitBehavior behavior,
                  std::vector<std::string>* out) {
  std::vector<SplitSpan> result;
  switch (behavior) {
    case SplitBehavior::kRemoved:
      for (const auto& s : spans) {
        if (!s.is_match) result.push_back(s);
      }
      break;
    case SplitBehavior::kIsolated:
      result = std::move(spans);
      break;
    case SplitBehavior::kMergedWithPrevious: {
      bool previous_match = false;
      for (const auto& s : spans) {
        if (s.is_match && !previous_match && !result.empty()) {
          result.back().end = s.end;
        } else {
          result.push_back(s);
        }
        previous_match = s.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool next_match = false;
      for (size_t k = spans.size(); k-- > 0;) {
        const auto& s = spans[k];
        if (s.is_match && !next_match && !result.empty()) {
          result.back().begin = s.begin;
        } else {
          result.push_back(s);
        }
        next_match = s.is_match;
      }
      std::reverse(result.begin(), result.end());
      break;
    }
    case SplitBehavior::kContiguous: {
      bool previous_match = false;
      for (const auto& s : spans) {
        if (s.is_match == previous_match && !result.empty()) {
          result.back().end = s.end;
        } else {
          result.push_back(s);
        }
        previous_match = s.is_match;
      }
      break;
    }
  }
  for (const auto& s : result) {
    if (s.end > s.begin) out->emplace_back(text.substr(s.begin, s.end - s.begin));
  }
}

StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::FromJson(const Json& j,
                                                               std::string_view where) {
  auto p = std::make_unique<PreTokenizer>();
  if (!j.is_null()) RETURN_IF_ERROR(p->Parse(j, where, 0));
  return p;
}

Status PreTokenizer::Parse(const Json& j, std::string_view where, int depth) {
  if (depth > kMaxNesting) return JsonError(where, "nests Sequences too deeply");
  ASSIGN_OR_RETURN(std::string type, JsonType(j, where));
  Step step;
  if (type == "Sequence") {
    const Json* list = JsonFind(j, "pretokenizers");
    if (list == nullptr || !list->is_array()) return JsonError(where, "needs a pretokenizers array");
    for (size_t i = 0; i < list->size(); ++i) {
      RETURN_IF_ERROR(Parse((*list)[i], StrCat(where, ".pretokenizers[", i, "]"), depth + 1));
    }
    return absl::OkStatus();
  } else if (type == "Split") {
    const Json* pattern = JsonFind(j, "pattern");
    if (pattern == nullptr) return JsonError(where, "(Split) needs a pattern");
    if (const Json* s = JsonFind(*pattern, "String")) {
      step.kind = Kind::kSplitString;
      ASSIGN_OR_RETURN(step.literal, JsonString(*s, StrCat(where, ".pattern.String")));
      if (step.literal.empty()) return JsonError(where, "has an empty String pattern");
    } else if (const Json* r = JsonFind(*pattern, "Regex")) {
      step.kind = Kind::kSplitRegex;
      ASSIGN_OR_RETURN(std::string re, JsonString(*r, StrCat(where, ".pattern.Regex")));
      auto compiled = Regex::Compile(re);
      if (!compiled.ok()) return JsonError(where, StrCat(compiled.status().message()));
      step.regex = std::move(compiled).value();
    } else {
      return JsonError(where, "pattern must be {\"String\": ...} or {\"Regex\": ...}");
    }
    ASSIGN_OR_RETURN(step.behavior, ParseBehavior(j, where, SplitBehavior::kIsolated));
    ASSIGN_OR_RETURN(step.invert, JsonBoolOr(j, "invert", false, where));
  } else if (type == "ByteLevel") {
    step.kind = Kind::kByteLevel;
    ASSIGN_OR_RETURN(step.add_prefix_space, JsonBoolOr(j, "add_prefix_space", true, where));
    ASSIGN_OR_RETURN(bool use_regex, JsonBoolOr(j, "use_regex", true, where));
    if (use_regex) {
      ASSIGN_OR_RETURN(step.regex, Regex::Compile(kGpt2Pattern));
    }
    byte_level_ = true;
  } else if (type == "Digits") {
    step.kind = Kind::kDigits;
    ASSIGN_OR_RETURN(step.individual_digits, JsonBoolOr(j, "individual_digits", false, where));
  } else if (type == "Punctuation") {
    step.kind = Kind::kPunctuation;
    ASSIGN_OR_RETURN(step.behavior, ParseBehavior(j, where, SplitBehavior::kIsolated));
  } else if (type == "Metaspace") {
    step.kind = Kind::kMetaspace;
    ASSIGN_OR_RETURN(step.literal, JsonStringOr(j, "replacement", kMetaspace, where));
    size_t pos = 0;
    if (step.literal.empty() || (NextCodepoint(step.literal, &pos), pos != step.literal.size())) {
      return JsonError(where, "(Metaspace) replacement must be one character");
    }
    ASSIGN_OR_RETURN(step.split, JsonBoolOr(j, "split", true, where));
    const Json* scheme = JsonFind(j, "prepend_scheme");
    if (scheme != nullptr && !scheme->is_null()) {
      ASSIGN_OR_RETURN(std::string s, JsonString(*scheme, StrCat(where, ".prepend_scheme")));
      if (s == "always") {
        step.prepend = Prepend::kAlways;
      } else if (s == "first") {
        step.prepend = Prepend::kFirst;
      } else if (s == "never") {
        step.prepend = Prepend::kNever;
      } else {
        return JsonError(where, StrCat("has unknown prepend_scheme '", s, "'"));
      }
    } else {
      ASSIGN_OR_RETURN(bool add, JsonBoolOr(j, "add_prefix_space", true, where));
      step.prepend = add ? Prepend::kAlways : Prepend::kNever;
    }
  } else if (type == "Whitespace") {
    step.kind = Kind::kWhitespace;
    ASSIGN_OR_RETURN(step.regex, Regex::Compile("\\w+|[^\\w\\s]+"));
  } else if (type == "WhitespaceSplit") {
    step.kind = Kind::kWhitespaceSplit;
  } else if (type == "BertPreTokenizer") {
    step.kind = Kind::kBert;
  } else if (type == "CharDelimiterSplit") {
    step.kind = Kind::kCharDelimiter;
    const Json* d = JsonFind(j, "delimiter");
    if (d == nullptr) return JsonError(where, "(CharDelimiterSplit) needs a delimiter");
    ASSIGN_OR_RETURN(step.literal, JsonString(*d, StrCat(where, ".delimiter")));
    if (step.literal.empty()) return JsonError(where, "has an empty delimiter");
  } else {
    return Unimplemented(StrCat(where, ": pre-tokenizer type '", type, "' is not supported"));
  }
  steps_.push_back(std::move(step));
  return absl::OkStatus();
}

Status PreTokenizer::Apply(std::string_view text, bool first_segment,
                           std::vector<std::string>* pieces) const {
  if (text.empty()) return absl::OkStatus();
  if (steps_.empty()) {
    pieces->emplace_back(text);
    return absl::OkStatus();
  }
  std::vector<std::string> current;
  current.emplace_back(text);
  std::vector<std::string> next;
  for (const Step& step : steps_) {
    next.clear();
    for (size_t i = 0; i < current.size(); ++i) {
      RETURN_IF_ERROR(ApplyStep(step, current[i], first_segment && i == 0, &next));
    }
    current.swap(next);
  }
  for (auto& p : current) pieces->push_back(std::move(p));
  return absl::OkStatus();
}

Status PreTokenizer::ApplyStep(const Step& step, std::string_view piece, bool first_piece,
                               std::vector<std::string>* out) const {
  switch (step.kind) {
    case Kind::kSplitRegex:
    case Kind::kSplitString: {
      std::vector<SplitSpan> spans;
      if (step.kind == Kind::kSplitRegex) {
        std::vector<std::pair<size_t, size_t>> matches;
        RETURN_IF_ERROR(step.regex->FindAll(piece, &matches));
        spans = MatchSpans(piece, matches);
      } else {
        spans = LiteralSpans(piece, step.literal);
      }
      if (step.invert) {
        for (auto& s : spans) s.is_match = !s.is_match;
      }
      SplitBySpans(piece, std::move(spans), step.behavior, out);
      return absl::OkStatus();
    }
    case Kind::kByteLevel: {
      std::string with_prefix;
      if (step.add_prefix_space && (piece.empty() || piece[0] != ' ')) {
        with_prefix = StrCat(" ", piece);
        piece = with_prefix;
      }
      std::vector<std::string> parts;
      if (step.regex != nullptr) {
        std::vector<std::pair<size_t, size_t>> matches;
        RETURN_IF_ERROR(step.regex->FindAll(piece, &matches));
        SplitBySpans(piece, MatchSpans(piece, matches), SplitBehavior::kIsolated, &parts);
      } else if (!piece.empty()) {
        parts.emplace_back(piece);
      }
      for (const auto& p : parts) out->push_back(ToByteLevel(p));
      return absl::OkStatus();
    }
    case Kind::kDigits:
      SplitBySpans(piece, CharSpans(piece, IsNumeric),
                   step.individual_digits ? SplitBehavior::kIsolated : SplitBehavior::kContiguous,
                   out);
      return absl::OkStatus();
    case Kind::kPunctuation:
      SplitBySpans(piece, CharSpans(piece, IsHfPunctuation), step.behavior, out);
      return absl::OkStatus();
    case Kind::kMetaspace: {
      std::string s = ReplaceAll(piece, " ", step.literal);
      const bool starts = s.compare(0, step.literal.size(), step.literal) == 0;
      if (!starts && (step.prepend == Prepend::kAlways ||
                      (step.prepend == Prepend::kFirst && first_piece))) {
        s.insert(0, step.literal);
      }
      if (step.split) {
        SplitBySpans(s, LiteralSpans(s, step.literal), SplitBehavior::kMergedWithNext, out);
      } else if (!s.empty()) {
        out->push_back(std::move(s));
      }
      return absl::OkStatus();
    }
    case Kind::kWhitespace: {
      std::vector<std::pair<size_t, size_t>> matches;
      RETURN_IF_ERROR(step.regex->FindAll(piece, &matches));
      for (const auto& [b, e] : matches) out->emplace_back(piece.substr(b, e - b));
      return absl::OkStatus();
    }
    case Kind::kWhitespaceSplit:
      SplitBySpans(piece, CharSpans(piece, IsWhitespace), SplitBehavior::kRemoved, out);
      return absl::OkStatus();
    case Kind::kBert: {
      std::vector<std::string> words;
      SplitBySpans(piece, CharSpans(piece, IsWhitespace), SplitBehavior::kRemoved, &words);
      for (const auto& w : words) {
        SplitBySpans(w, CharSpans(w, IsHfPunctuation), SplitBehavior::kIsolated, out);
      }
      return absl::OkStatus();
    }
    case Kind::kCharDelimiter:
      SplitBySpans(piece, LiteralSpans(piece, step.literal), SplitBehavior::kRemoved, out);
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace pagellm::tokenizer
