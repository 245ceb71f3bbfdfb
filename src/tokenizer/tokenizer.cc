// Tokenizer: validation of loaded parts, Encode/Decode and accessors (loaders live in
// hf_loader.cc, gguf_loader.cc and llama2c_loader.cc).
#include "src/tokenizer/tokenizer.h"

#include <algorithm>
#include <mutex>

#include "src/base/mapped_file.h"
#include "src/tokenizer/tokenizer_internal.h"
#include "src/tokenizer/utf8.h"

namespace pagellm {
namespace tokenizer {

// A bounded cache of piece -> ids for BPE/WordPiece: 16 shards, each cleared when it reaches
// kMaxEntries (at most 64K short pieces in all; real text repeats its frequent words quickly).
class PieceCache {
 public:
  static constexpr size_t kShards = 16;
  static constexpr size_t kMaxEntries = 4096;
  static constexpr size_t kMaxPieceBytes = 48;

  bool Lookup(std::string_view piece, std::vector<TokenId>* out) {
    Shard& s = ShardFor(piece);
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.map.find(ToAbsl(piece));
    if (it == s.map.end()) return false;
    out->insert(out->end(), it->second.begin(), it->second.end());
    return true;
  }
  void Insert(std::string_view piece, std::span<const TokenId> ids) {
    Shard& s = ShardFor(piece);
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.map.size() >= kMaxEntries) s.map.clear();
    s.map.try_emplace(std::string(piece), ids.begin(), ids.end());
  }

 private:
  struct Shard {
    std::mutex mu;
    absl::flat_hash_map<std::string, std::vector<TokenId>> map;
  };
  Shard& ShardFor(std::string_view piece) {
    return shards_[absl::Hash<absl::string_view>()(ToAbsl(piece)) % kShards];
  }
  Shard shards_[kShards];
};

}  // namespace tokenizer

using tokenizer::TokenInfo;
using tokenizer::TokenizerParts;

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Create(TokenizerParts parts) {
  const std::string& src = parts.source;
  const int64_t n = static_cast<int64_t>(parts.tokens.size());
  if (n == 0) return InvalidArgument(StrCat(src, ": the vocabulary is empty"));
  if (n > tokenizer::kMaxVocabSize) {
    return InvalidArgument(StrCat(src, ": vocabulary of ", n, " tokens exceeds the limit"));
  }
  if (parts.model == nullptr) return Internal(StrCat(src, ": loader built no model"));
  auto check_id = [&](TokenId id, std::string_view what) -> Status {
    if (id < -1 || id >= n) {
      return InvalidArgument(StrCat(src, ": ", what, " id ", id, " is outside the vocabulary of ",
                                    n, " tokens"));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(check_id(parts.bos_id, "bos"));
  RETURN_IF_ERROR(check_id(parts.eos_id, "eos"));
  RETURN_IF_ERROR(check_id(parts.unk_id, "unk"));
  RETURN_IF_ERROR(check_id(parts.pad_id, "pad"));
  for (TokenId id : parts.prefix_ids) RETURN_IF_ERROR(check_id(id, "prefix token"));
  for (TokenId id : parts.suffix_ids) RETURN_IF_ERROR(check_id(id, "suffix token"));
  for (TokenId id : parts.extra_eos_ids) RETURN_IF_ERROR(check_id(id, "eos"));
  for (const auto& a : parts.added) {
    if (a.id < 0 || a.id >= n) return check_id(a.id < 0 ? -2 : a.id, "added token");
  }

  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->special_.assign(n, 0);
  for (int64_t i = 0; i < n; ++i) {
    const TokenType type = parts.tokens[i].type;
    t->special_[i] = type == TokenType::kControl || type == TokenType::kUnknown ||
                     type == TokenType::kUnused;
  }
  std::vector<int8_t> added_kind(n, -1);  // -1: model token, 0: added, 1: added special
  for (const auto& a : parts.added) {
    added_kind[a.id] = a.special ? 1 : 0;
    t->special_[a.id] = a.special;
  }

  // Decoded bytes of every token.
  const tokenizer::Decoder& dec = parts.decoder;
  t->decode_rules_ = {dec.first_sensitive(), dec.strip_leading(), dec.strip_char()};
  t->piece_bytes_.resize(n);
  if (dec.first_sensitive()) t->first_piece_bytes_.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    const std::string& piece = parts.tokens[i].piece;
    if (added_kind[i] >= 0) {
      // Added tokens decode to their content (llama.cpp's rule; HF's for ASCII content).
      t->piece_bytes_[i] = dec.SeparatedBytes(piece, /*first=*/false);
      if (dec.first_sensitive()) t->first_piece_bytes_[i] = dec.SeparatedBytes(piece, true);
    } else {
      t->piece_bytes_[i] = dec.PieceBytes(piece, /*first=*/false);
      if (dec.first_sensitive()) t->first_piece_bytes_[i] = dec.PieceBytes(piece, true);
    }
  }

  // TokenToId: added tokens first, then the model's vocabulary map (kept in parts_).
  for (const auto& a : parts.added) t->added_to_id_.try_emplace(a.content, a.id);

  t->bos_id_ = parts.bos_id;
  t->unk_id_ = parts.unk_id;
  t->pad_id_ = parts.pad_id;
  t->prefix_ids_ = parts.prefix_ids;
  t->suffix_ids_ = parts.suffix_ids;
  t->add_bos_ = parts.bos_id >= 0 && std::find(parts.prefix_ids.begin(), parts.prefix_ids.end(),
                                               parts.bos_id) != parts.prefix_ids.end();
  t->add_eos_ = parts.eos_id >= 0 && std::find(parts.suffix_ids.begin(), parts.suffix_ids.end(),
                                               parts.eos_id) != parts.suffix_ids.end();
  auto add_eos = [&](TokenId id) {
    if (id >= 0 && std::find(t->eos_ids_.begin(), t->eos_ids_.end(), id) == t->eos_ids_.end()) {
      t->eos_ids_.push_back(id);
    }
  };
  add_eos(parts.eos_id);
  for (TokenId id : parts.extra_eos_ids) add_eos(id);
  for (std::string_view name : {"<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>",
                                "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>"}) {
    TokenId id = tokenizer::FindPiece(t->added_to_id_, name);
    if (id < 0) id = tokenizer::FindPiece(*parts.vocab, name);
    if (id >= 0 && t->special_[id]) add_eos(id);
  }
  t->chat_template_ = parts.chat_template;
  t->chat_templates_ = parts.chat_templates;
  t->tokens_ = std::move(parts.tokens);  // the models keep what they need themselves

  parts.matcher = tokenizer::AddedTokenMatcher(parts.added);
  t->cache_ = std::make_unique<tokenizer::PieceCache>();
  t->parts_ = std::make_unique<TokenizerParts>(std::move(parts));
  return t;
}

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromHfFiles(const std::string& json_path,
                                                            const std::string& config_path) {
  ASSIGN_OR_RETURN(std::string json, ReadFileToString(json_path, 1ull << 30));
  std::string config;
  if (!config_path.empty()) {
    ASSIGN_OR_RETURN(config, ReadFileToString(config_path, 64ull << 20));
  }
  auto t = FromHfJson(json, config);
  if (!t.ok()) {
    return Status(t.status().code(), ToAbsl(StrCat(json_path, ": ", t.status().message())));
  }
  return t;
}

StatusOr<std::vector<TokenId>> Tokenizer::Encode(std::string_view text,
                                                 const EncodeOptions& options) const {
  std::string sanitized;
  if (!tokenizer::IsValidUtf8(text)) {
    sanitized = tokenizer::SanitizeUtf8(text);
    text = sanitized;
  }
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 4);
  if (options.add_special) out = prefix_ids_;
  std::vector<tokenizer::Segment> segments;
  parts_->matcher.Split(text, options.parse_special, /*normalized_phase=*/false, &segments);
  for (const auto& seg : segments) {
    if (seg.token >= 0) {
      out.push_back(seg.token);
    } else {
      RETURN_IF_ERROR(EncodeSegment(text.substr(seg.begin, seg.end - seg.begin), seg.begin == 0,
                                    options.parse_special, &out));
    }
  }
  if (options.add_special) out.insert(out.end(), suffix_ids_.begin(), suffix_ids_.end());
  return out;
}

Status Tokenizer::EncodeSegment(std::string_view text, bool first_segment, bool parse_special,
                                std::vector<TokenId>* out) const {
  std::string normalized;
  if (parts_->normalizer != nullptr && !parts_->normalizer->empty()) {
    normalized = parts_->normalizer->Apply(text);
    text = normalized;
  }
  if (!parts_->matcher.has_normalized()) return EncodeNormalized(text, first_segment, out);
  std::vector<tokenizer::Segment> segments;
  parts_->matcher.Split(text, parse_special, /*normalized_phase=*/true, &segments);
  for (const auto& seg : segments) {
    if (seg.token >= 0) {
      out->push_back(seg.token);
    } else {
      RETURN_IF_ERROR(EncodeNormalized(text.substr(seg.begin, seg.end - seg.begin),
                                       first_segment && seg.begin == 0, out));
    }
  }
  return absl::OkStatus();
}

Status Tokenizer::EncodeNormalized(std::string_view text, bool first_segment,
                                   std::vector<TokenId>* out) const {
  if (text.empty()) return absl::OkStatus();
  const tokenizer::Model& model = *parts_->model;
  if (parts_->pre_tokenizer == nullptr || parts_->pre_tokenizer->empty()) {
    model.EncodePiece(text, out);
    return absl::OkStatus();
  }
  std::vector<std::string> pieces;
  RETURN_IF_ERROR(parts_->pre_tokenizer->Apply(text, first_segment, &pieces));
  for (const std::string& piece : pieces) {
    const bool use_cache =
        model.cacheable() && piece.size() <= tokenizer::PieceCache::kMaxPieceBytes;
    if (use_cache && cache_->Lookup(piece, out)) continue;
    const size_t mark = out->size();
    model.EncodePiece(piece, out);
    if (use_cache) cache_->Insert(piece, std::span<const TokenId>(*out).subspan(mark));
  }
  return absl::OkStatus();
}

StatusOr<std::string> Tokenizer::Decode(std::span<const TokenId> ids,
                                        bool skip_special_tokens) const {
  std::string bytes;
  bool first = true;
  for (TokenId id : ids) {
    if (id < 0 || id >= vocab_size()) {
      return InvalidArgument(StrCat("cannot decode token id ", id, ": the vocabulary has ",
                                    vocab_size(), " tokens"));
    }
    if (skip_special_tokens && special_[id]) continue;
    bytes.append(PieceBytesUnchecked(id, first));
    first = false;
  }
  size_t strip = 0;
  while (strip < bytes.size() && static_cast<int>(strip) < decode_rules_.strip_leading &&
         bytes[strip] == decode_rules_.strip_char) {
    ++strip;
  }
  return tokenizer::SanitizeUtf8(std::string_view(bytes).substr(strip));
}

std::string_view Tokenizer::PieceBytesUnchecked(TokenId id, bool first) const {
  return first && decode_rules_.first_sensitive ? first_piece_bytes_[id] : piece_bytes_[id];
}

StatusOr<std::string_view> Tokenizer::TokenPiece(TokenId id) const {
  if (id < 0 || id >= vocab_size()) {
    return InvalidArgument(StrCat("token id ", id, " is outside the vocabulary of ",
                                  vocab_size(), " tokens"));
  }
  return std::string_view(tokens_[id].piece);
}

StatusOr<std::string_view> Tokenizer::TokenBytes(TokenId id) const {
  if (id < 0 || id >= vocab_size()) {
    return InvalidArgument(StrCat("token id ", id, " is outside the vocabulary of ",
                                  vocab_size(), " tokens"));
  }
  return PieceBytesUnchecked(id, false);
}

TokenId Tokenizer::TokenToId(std::string_view piece) const {
  const TokenId id = tokenizer::FindPiece(added_to_id_, piece);
  return id >= 0 ? id : tokenizer::FindPiece(*parts_->vocab, piece);
}

Status Tokenizer::AddEosId(TokenId id) {
  if (id < 0 || id >= vocab_size()) {
    return InvalidArgument(StrCat("eos id ", id, " is outside the vocabulary of ", vocab_size(),
                                  " tokens"));
  }
  if (std::find(eos_ids_.begin(), eos_ids_.end(), id) == eos_ids_.end()) eos_ids_.push_back(id);
  return absl::OkStatus();
}

std::string_view Tokenizer::bos_token() const {
  return bos_id_ >= 0 ? std::string_view(tokens_[bos_id_].piece) : std::string_view();
}

std::string_view Tokenizer::eos_token() const {
  const TokenId id = eos_id();
  return id >= 0 ? std::string_view(tokens_[id].piece) : std::string_view();
}

bool Tokenizer::IsSpecial(TokenId id) const {
  return id >= 0 && id < vocab_size() && special_[id];
}

TokenType Tokenizer::token_type(TokenId id) const {
  return id >= 0 && id < vocab_size() ? tokens_[id].type : TokenType::kUndefined;
}

}  // namespace pagellm
