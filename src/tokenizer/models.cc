// Subword models: BPE (rank merges), SentencePiece-style score merges, llama2.c, WordPiece.
#include "src/tokenizer/models.h"

#include <queue>

#include "src/tokenizer/utf8.h"

namespace pagellm::tokenizer {
namespace {

// A doubly linked list of symbols over one piece; merged-away symbols get `alive = false`.
struct Symbol {
  TokenId id = -1;
  int32_t prev = -1;
  int32_t next = -1;
  uint32_t begin = 0;  // byte span in the piece (SPM)
  uint32_t len = 0;
  bool alive = true;
};

void Unlink(std::vector<Symbol>& syms, int32_t left, int32_t right) {
  syms[right].alive = false;
  syms[left].next = syms[right].next;
  if (syms[right].next >= 0) syms[syms[right].next].prev = left;
}

}  // namespace

std::array<TokenId, 256> FindByteTokens(const std::vector<TokenInfo>& tokens) {
  std::array<TokenId, 256> ids;
  ids.fill(-1);
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& p = tokens[i].piece;
    if (p.size() != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>') continue;
    int v = 0;
    bool ok = true;
    for (int k = 3; k < 5; ++k) {
      const char c = p[k];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else ok = false;
    }
    if (ok && ids[v] < 0) ids[v] = static_cast<TokenId>(i);
  }
  return ids;
}

// ---------------------------------------------------------------------------------------------
// BpeModel

BpeModel::BpeModel(const PieceMap* vocab, const std::vector<TokenInfo>& tokens,
                   BpeOptions options)
    : vocab_(vocab), options_(options), byte_tokens_(FindByteTokens(tokens)) {}

Status BpeModel::AddMerge(std::string_view left, std::string_view right, int32_t rank) {
  const TokenId a = FindPiece(*vocab_, left);
  const TokenId b = FindPiece(*vocab_, right);
  if (a < 0 || b < 0) {
    return InvalidArgument(StrCat("merge ", rank, " ('", left, "' '", right,
                                  "') names a piece that is not in the vocabulary"));
  }
  thread_local std::string joined;
  joined.assign(left);
  joined.append(right);
  const TokenId merged = FindPiece(*vocab_, joined);
  if (merged < 0) {
    return InvalidArgument(StrCat("merge ", rank, " ('", left, "' '", right,
                                  "') produces '", left, right, "', which is not in the vocabulary"));
  }
  merges_.try_emplace(Key(a, b), MergeInfo{rank, merged});  // the first (lowest) rank wins
  return absl::OkStatus();
}

void BpeModel::EncodePiece(std::string_view piece, std::vector<TokenId>* out) const {
  if (options_.ignore_merges) {
    const TokenId whole = FindPiece(*vocab_, piece);
    if (whole >= 0) {
      out->push_back(whole);
      return;
    }
  }
  std::vector<Symbol> syms;
  syms.reserve(piece.size());
  auto add = [&syms](TokenId id) {
    Symbol s;
    s.id = id;
    syms.push_back(s);
  };
  bool pending_unk = false;
  size_t pos = 0;
  while (pos < piece.size()) {
    const size_t start = pos;
    NextCodepoint(piece, &pos);
    const std::string_view ch = piece.substr(start, pos - start);
    const TokenId id = FindPiece(*vocab_, ch);
    if (id >= 0) {
      pending_unk = false;
      add(id);
      continue;
    }
    if (options_.byte_fallback) {
      bool all = true;
      for (char c : ch) all = all && byte_tokens_[static_cast<uint8_t>(c)] >= 0;
      if (all) {
        pending_unk = false;
        for (char c : ch) add(byte_tokens_[static_cast<uint8_t>(c)]);
        continue;
      }
    }
    if (options_.unk_id >= 0) {
      if (!(pending_unk && options_.fuse_unk)) add(options_.unk_id);
      pending_unk = true;
    }
  }
  const int32_t n = static_cast<int32_t>(syms.size());
  for (int32_t i = 0; i < n; ++i) {
    syms[i].prev = i - 1;
    syms[i].next = i + 1 < n ? i + 1 : -1;
  }

  struct Candidate {
    int32_t rank;
    int32_t pos;
    TokenId id;
    bool operator<(const Candidate& o) const {  // priority_queue pops the "largest"
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate> queue;
  auto push_pair = [&](int32_t left) {
    if (left < 0 || syms[left].next < 0) return;
    auto it = merges_.find(Key(syms[left].id, syms[syms[left].next].id));
    if (it != merges_.end()) queue.push({it->second.rank, left, it->second.id});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push_pair(i);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = syms[top.pos];
    if (!left.alive || left.next < 0) continue;
    auto it = merges_.find(Key(left.id, syms[left.next].id));
    if (it == merges_.end() || it->second.id != top.id) continue;  // stale entry
    left.id = top.id;
    Unlink(syms, top.pos, left.next);
    push_pair(left.prev);
    push_pair(top.pos);
  }
  for (const Symbol& s : syms) {
    if (s.alive) out->push_back(s.id);
  }
}

// ---------------------------------------------------------------------------------------------
// SpmModel

SpmModel::SpmModel(const std::vector<TokenInfo>& tokens, TokenId unk_id)
    : byte_tokens_(FindByteTokens(tokens)), unk_id_(unk_id) {
  scores_.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    scores_.push_back(tokens[i].score);
    const TokenType t = tokens[i].type;
    if (t == TokenType::kNormal || t == TokenType::kUserDefined || t == TokenType::kUnused ||
        t == TokenType::kUndefined) {
      mergeable_.try_emplace(tokens[i].piece, static_cast<TokenId>(i));
    }
  }
}

void SpmModel::EncodePiece(std::string_view piece, std::vector<TokenId>* out) const {
  std::vector<Symbol> syms;
  size_t pos = 0;
  while (pos < piece.size()) {
    Symbol s;
    s.begin = static_cast<uint32_t>(pos);
    NextCodepoint(piece, &pos);
    s.len = static_cast<uint32_t>(pos - s.begin);
    syms.push_back(s);
  }
  const int32_t n = static_cast<int32_t>(syms.size());
  for (int32_t i = 0; i < n; ++i) {
    syms[i].prev = i - 1;
    syms[i].next = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    float score;
    int32_t left;
    uint32_t len;
    TokenId id;
    bool operator<(const Candidate& o) const {
      return score != o.score ? score < o.score : left > o.left;
    }
  };
  std::priority_queue<Candidate> queue;
  auto push_pair = [&](int32_t left) {
    if (left < 0 || syms[left].next < 0) return;
    const Symbol& l = syms[left];
    const Symbol& r = syms[l.next];
    const TokenId id = FindPiece(mergeable_, piece.substr(l.begin, l.len + r.len));
    if (id >= 0) queue.push({scores_[id], left, l.len + r.len, id});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push_pair(i);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = syms[top.left];
    if (!left.alive || left.next < 0 || left.len + syms[left.next].len != top.len) continue;
    left.len = top.len;
    Unlink(syms, top.left, left.next);
    push_pair(left.prev);
    push_pair(top.left);
  }
  for (const Symbol& s : syms) {
    if (!s.alive) continue;
    const std::string_view text = piece.substr(s.begin, s.len);
    const TokenId id = FindPiece(mergeable_, text);
    if (id >= 0) {
      out->push_back(id);
      continue;
    }
    bool all_bytes = true;
    for (char c : text) all_bytes = all_bytes && byte_tokens_[static_cast<uint8_t>(c)] >= 0;
    if (all_bytes) {
      for (char c : text) out->push_back(byte_tokens_[static_cast<uint8_t>(c)]);
    } else if (unk_id_ >= 0) {
      out->push_back(unk_id_);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Llama2cModel

Llama2cModel::Llama2cModel(std::vector<std::string> raw_pieces, std::vector<float> scores)
    : raw_(std::move(raw_pieces)), scores_(std::move(scores)) {
  for (size_t i = 0; i < raw_.size(); ++i) lookup_.try_emplace(raw_[i], static_cast<TokenId>(i));
}

void Llama2cModel::EncodePiece(std::string_view piece, std::vector<TokenId>* out) const {
  // Byte fallback as run.c: the first three ids are <unk>, <s>, </s>, then <0x00>..<0xFF>.
  auto byte_id = [](uint8_t b) { return static_cast<TokenId>(b) + 3; };
  std::vector<Symbol> syms;
  auto add = [&syms](TokenId id) {
    Symbol s;
    s.id = id;
    syms.push_back(s);
  };
  // run.c adds the dummy prefix " " for non-empty text.
  const TokenId space = FindPiece(lookup_, " ");
  add(space >= 0 ? space : byte_id(' '));
  size_t pos = 0;
  while (pos < piece.size()) {
    const size_t start = pos;
    NextCodepoint(piece, &pos);
    const std::string_view ch = piece.substr(start, pos - start);
    const TokenId id = FindPiece(lookup_, ch);
    if (id >= 0) {
      add(id);
    } else {
      for (char c : ch) add(byte_id(static_cast<uint8_t>(c)));
    }
  }
  const int32_t n = static_cast<int32_t>(syms.size());
  for (int32_t i = 0; i < n; ++i) {
    syms[i].prev = i - 1;
    syms[i].next = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    float score;
    int32_t pos;
    TokenId left_id, right_id, id;
    bool operator<(const Candidate& o) const {
      return score != o.score ? score < o.score : pos > o.pos;
    }
  };
  std::priority_queue<Candidate> queue;
  std::string buf;
  auto push_pair = [&](int32_t left) {
    if (left < 0 || syms[left].next < 0) return;
    const TokenId a = syms[left].id, b = syms[syms[left].next].id;
    buf.assign(raw_[a]);
    buf.append(raw_[b]);
    const TokenId id = FindPiece(lookup_, buf);
    // run.c starts from best_score = -1e10 and requires a strictly better score.
    if (id >= 0 && scores_[id] > -1e10f) queue.push({scores_[id], left, a, b, id});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push_pair(i);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = syms[top.pos];
    if (!left.alive || left.next < 0 || left.id != top.left_id ||
        syms[left.next].id != top.right_id) {
      continue;
    }
    left.id = top.id;
    Unlink(syms, top.pos, left.next);
    push_pair(left.prev);
    push_pair(top.pos);
  }
  for (const Symbol& s : syms) {
    if (s.alive) out->push_back(s.id);
  }
}

// ---------------------------------------------------------------------------------------------
// WordPieceModel

WordPieceModel::WordPieceModel(const PieceMap* vocab, std::string word_prefix,
                               std::string continuation_prefix, TokenId unk_id,
                               size_t max_token_bytes)
    : vocab_(vocab),
      word_prefix_(std::move(word_prefix)),
      continuation_prefix_(std::move(continuation_prefix)),
      unk_id_(unk_id),
      max_token_bytes_(max_token_bytes) {}

void WordPieceModel::EncodePiece(std::string_view piece, std::vector<TokenId>* out) const {
  constexpr size_t kMaxWordChars = 100;  // HF WordPiece max_input_chars_per_word
  size_t num_chars = 0;
  for (size_t pos = 0; pos < piece.size(); NextCodepoint(piece, &pos)) ++num_chars;
  const size_t mark = out->size();
  bool ok = num_chars <= kMaxWordChars;
  const std::string word = StrCat(word_prefix_, piece);
  std::string candidate;
  size_t i = 0;
  while (ok && i < word.size()) {
    bool found = false;
    size_t j = std::min(word.size(), i + max_token_bytes_);
    for (; j > i; --j) {
      // Only cut at character boundaries.
      if (j < word.size() && (static_cast<uint8_t>(word[j]) & 0xC0) == 0x80) continue;
      std::string_view sub(word.data() + i, j - i);
      TokenId id;
      if (i > 0 && !continuation_prefix_.empty()) {
        candidate = StrCat(continuation_prefix_, sub);
        id = FindPiece(*vocab_, candidate);
      } else {
        id = FindPiece(*vocab_, sub);
      }
      if (id >= 0) {
        out->push_back(id);
        found = true;
        break;
      }
    }
    if (!found) ok = false;
    i = j;
  }
  if (!ok) {
    out->resize(mark);
    if (unk_id_ >= 0) out->push_back(unk_id_);
  }
}

}  // namespace pagellm::tokenizer
