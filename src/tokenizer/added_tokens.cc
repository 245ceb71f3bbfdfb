// AddedTokenMatcher: byte trie, leftmost-longest matching with lstrip/rstrip/single_word.
#include "src/tokenizer/added_tokens.h"

#include <algorithm>

#include "src/tokenizer/unicode.h"
#include "src/tokenizer/utf8.h"

namespace pagellm::tokenizer {
namespace {

// The code point ending right before byte `pos` (pos > 0) and where it starts.
char32_t PrevCodepoint(std::string_view text, size_t pos, size_t* start) {
  size_t s = pos - 1;
  while (s > 0 && pos - s < 4 && (static_cast<uint8_t>(text[s]) & 0xC0) == 0x80) --s;
  size_t p = s;
  const char32_t cp = NextCodepoint(text, &p);
  if (p != pos) {  // not a well-formed character: treat the last byte alone
    *start = pos - 1;
    return kReplacementChar;
  }
  *start = s;
  return cp;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  nodes_.emplace_back();  // root
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    if (t.content.empty()) continue;
    has_normalized_ = has_normalized_ || t.normalized;
    int32_t node = 0;
    for (char c : t.content) {
      const uint8_t b = static_cast<uint8_t>(c);
      int32_t next = Child(node, b);
      if (next < 0) {
        next = static_cast<int32_t>(nodes_.size());
        nodes_.emplace_back();
        auto& ch = nodes_[node].children;
        ch.insert(std::lower_bound(ch.begin(), ch.end(), std::make_pair(b, int32_t{-1})),
                  {b, next});
      }
      node = next;
    }
    if (nodes_[node].token_idx < 0) nodes_[node].token_idx = static_cast<int32_t>(i);
  }
}

int32_t AddedTokenMatcher::Child(int32_t node, uint8_t b) const {
  const auto& ch = nodes_[node].children;
  auto it = std::lower_bound(ch.begin(), ch.end(), std::make_pair(b, int32_t{-1}));
  return it != ch.end() && it->first == b ? it->second : -1;
}

bool AddedTokenMatcher::Acceptable(const AddedToken& t, bool parse_special,
                                   bool normalized_phase) const {
  return t.normalized == normalized_phase && (parse_special || !t.special);
}

void AddedTokenMatcher::Split(std::string_view text, bool parse_special, bool normalized_phase,
                              std::vector<Segment>* out) const {
  size_t seg_start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    int32_t node = Child(0, static_cast<uint8_t>(text[pos]));
    int32_t best = -1;
    size_t best_end = 0;
    for (size_t k = pos + 1; node >= 0; ++k) {
      const int32_t idx = nodes_[node].token_idx;
      if (idx >= 0 && Acceptable(tokens_[idx], parse_special, normalized_phase)) {
        bool ok = true;
        if (tokens_[idx].single_word) {
          size_t s;
          if (pos > 0 && IsWordChar(PrevCodepoint(text, pos, &s))) ok = false;
          size_t p = k;
          if (k < text.size() && IsWordChar(NextCodepoint(text, &p))) ok = false;
        }
        if (ok) {
          best = idx;
          best_end = k;
        }
      }
      if (k >= text.size()) break;
      node = Child(node, static_cast<uint8_t>(text[k]));
    }
    if (best < 0) {
      ++pos;
      continue;
    }
    size_t mstart = pos, mend = best_end;
    if (tokens_[best].lstrip) {
      while (mstart > seg_start) {
        size_t s;
        if (!IsWhitespace(PrevCodepoint(text, mstart, &s)) || s < seg_start) break;
        mstart = s;
      }
    }
    if (tokens_[best].rstrip) {
      while (mend < text.size()) {
        size_t p = mend;
        if (!IsWhitespace(NextCodepoint(text, &p))) break;
        mend = p;
      }
    }
    if (mstart > seg_start) out->push_back({-1, seg_start, mstart});
    out->push_back({tokens_[best].id, mstart, mend});
    seg_start = pos = mend;
  }
  if (seg_start < text.size()) out->push_back({-1, seg_start, text.size()});
}

}  // namespace pagellm::tokenizer
