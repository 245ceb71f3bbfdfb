// Tokenizer::FromHfJson: HF tokenizer.json (+ tokenizer_config.json) -> TokenizerParts.
#include <algorithm>

#include "src/tokenizer/json_util.h"
#include "src/tokenizer/tokenizer.h"
#include "src/tokenizer/tokenizer_internal.h"

namespace pagellm {
namespace {

using tokenizer::AddedToken;
using tokenizer::Json;
using tokenizer::JsonBoolOr;
using tokenizer::JsonError;
using tokenizer::JsonFind;
using tokenizer::JsonInt;
using tokenizer::JsonString;
using tokenizer::TokenizerParts;

constexpr size_t kMaxMerges = 1 << 22;

StatusOr<TokenId> JsonTokenId(const Json& v, std::string_view where) {
  ASSIGN_OR_RETURN(int64_t id, JsonInt(v, where));
  if (id < 0 || id >= tokenizer::kMaxVocabSize) {
    return JsonError(where, StrCat("= ", id, " is not a valid token id"));
  }
  return static_cast<TokenId>(id);
}

Status ParseVocab(const Json& vocab, std::vector<std::pair<TokenId, std::string>>* entries) {
  if (!vocab.is_object()) return JsonError("model.vocab", "must be an object of piece -> id");
  entries->reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    ASSIGN_OR_RETURN(TokenId id, JsonTokenId(it.value(), StrCat("model.vocab[\"", it.key(), "\"]")));
    if (it.key().size() > tokenizer::kMaxPieceBytes) return JsonError("model.vocab", "has a huge piece");
    entries->emplace_back(id, it.key());
  }
  return absl::OkStatus();
}

Status ParseAddedTokens(const Json& root, std::vector<AddedToken>* added) {
  const Json* list = JsonFind(root, "added_tokens");
  if (list == nullptr || list->is_null()) return absl::OkStatus();
  if (!list->is_array()) return JsonError("added_tokens", "must be an array");
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& t = (*list)[i];
    const std::string where = StrCat("added_tokens[", i, "]");
    if (!t.is_object()) return JsonError(where, "must be an object");
    const Json* id = JsonFind(t, "id");
    const Json* content = JsonFind(t, "content");
    if (id == nullptr || content == nullptr) return JsonError(where, "needs id and content");
    AddedToken a;
    ASSIGN_OR_RETURN(a.id, JsonTokenId(*id, StrCat(where, ".id")));
    ASSIGN_OR_RETURN(a.content, JsonString(*content, StrCat(where, ".content")));
    if (a.content.empty() || a.content.size() > tokenizer::kMaxPieceBytes) {
      return JsonError(where, "content must be a non-empty string");
    }
    ASSIGN_OR_RETURN(a.special, JsonBoolOr(t, "special", false, where));
    ASSIGN_OR_RETURN(a.lstrip, JsonBoolOr(t, "lstrip", false, where));
    ASSIGN_OR_RETURN(a.rstrip, JsonBoolOr(t, "rstrip", false, where));
    ASSIGN_OR_RETURN(a.single_word, JsonBoolOr(t, "single_word", false, where));
    ASSIGN_OR_RETURN(a.normalized, JsonBoolOr(t, "normalized", !a.special, where));
    added->push_back(std::move(a));
  }
  return absl::OkStatus();
}

// Splits a merge into its two pieces: "a b" (first space after the first byte) or ["a", "b"].
Status ParseMerge(const Json& m, size_t i, std::string* left, std::string* right) {
  const std::string where = StrCat("model.merges[", i, "]");
  if (m.is_string()) {
    const std::string& s = m.get_ref<const std::string&>();
    const size_t sp = s.find(' ', 1);
    if (sp == std::string::npos) return JsonError(where, StrCat("'", s, "' is not \"left right\""));
    *left = s.substr(0, sp);
    *right = s.substr(sp + 1);
  } else if (m.is_array() && m.size() == 2) {
    ASSIGN_OR_RETURN(*left, JsonString(m[0], where));
    ASSIGN_OR_RETURN(*right, JsonString(m[1], where));
  } else {
    return JsonError(where, "must be a string \"left right\" or a pair [left, right]");
  }
  if (left->empty() || right->empty()) return JsonError(where, "has an empty piece");
  return absl::OkStatus();
}

// Prefix/suffix special ids from a post_processor.
Status ParsePostProcessor(const Json& pp, std::string_view where, int depth,
                          std::vector<TokenId>* prefix, std::vector<TokenId>* suffix) {
  if (pp.is_null()) return absl::OkStatus();
  if (depth > 8) return JsonError(where, "nests too deeply");
  ASSIGN_OR_RETURN(std::string type, tokenizer::JsonType(pp, where));
  if (type == "ByteLevel") return absl::OkStatus();
  if (type == "Sequence") {
    const Json* list = JsonFind(pp, "processors");
    if (list == nullptr || !list->is_array()) return JsonError(where, "needs a processors array");
    for (size_t i = 0; i < list->size(); ++i) {
      RETURN_IF_ERROR(ParsePostProcessor((*list)[i], StrCat(where, ".processors[", i, "]"),
                                         depth + 1, prefix, suffix));
    }
    return absl::OkStatus();
  }
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    auto pair_id = [&](const char* key) -> StatusOr<TokenId> {
      const Json* v = JsonFind(pp, key);
      if (v == nullptr || !v->is_array() || v->size() != 2) {
        return JsonError(where, StrCat("needs ", key, " = [token, id]"));
      }
      return JsonTokenId((*v)[1], StrCat(where, ".", key));
    };
    ASSIGN_OR_RETURN(TokenId cls, pair_id("cls"));
    ASSIGN_OR_RETURN(TokenId sep, pair_id("sep"));
    prefix->push_back(cls);
    suffix->insert(suffix->begin(), sep);
    return absl::OkStatus();
  }
  if (type != "TemplateProcessing") {
    return Unimplemented(StrCat(where, ": post_processor type '", type, "' is not supported"));
  }
  const Json* single = JsonFind(pp, "single");
  const Json* specials = JsonFind(pp, "special_tokens");
  if (single == nullptr || !single->is_array()) return JsonError(where, "needs a single template");
  bool seen_sequence = false;
  std::vector<TokenId> pre, post;
  for (size_t i = 0; i < single->size(); ++i) {
    const Json& item = (*single)[i];
    const std::string iw = StrCat(where, ".single[", i, "]");
    if (JsonFind(item, "Sequence") != nullptr) {
      seen_sequence = true;
      continue;
    }
    const Json* st = JsonFind(item, "SpecialToken");
    const Json* name = st == nullptr ? nullptr : JsonFind(*st, "id");
    if (name == nullptr) return JsonError(iw, "must be a Sequence or a SpecialToken with an id");
    ASSIGN_OR_RETURN(std::string key, JsonString(*name, StrCat(iw, ".SpecialToken.id")));
    const Json* entry = specials == nullptr ? nullptr : JsonFind(*specials, key);
    const Json* ids = entry == nullptr ? nullptr : JsonFind(*entry, "ids");
    if (ids == nullptr || !ids->is_array()) {
      return JsonError(iw, StrCat("names special token '", key, "' missing from special_tokens"));
    }
    for (size_t k = 0; k < ids->size() && k < 16; ++k) {
      ASSIGN_OR_RETURN(TokenId id, JsonTokenId((*ids)[k], StrCat(where, ".special_tokens.", key)));
      (seen_sequence ? post : pre).push_back(id);
    }
  }
  prefix->insert(prefix->end(), pre.begin(), pre.end());
  suffix->insert(suffix->begin(), post.begin(), post.end());
  return absl::OkStatus();
}

// A token named in tokenizer_config.json: "text", {"content": "text"} or null.
StatusOr<std::string> ConfigToken(const Json& config, std::string_view key) {
  const Json* v = JsonFind(config, key);
  if (v == nullptr || v->is_null()) return std::string();
  if (v->is_string()) return v->get<std::string>();
  if (const Json* c = JsonFind(*v, "content")) return JsonString(*c, StrCat("tokenizer_config.", key, ".content"));
  return JsonError(StrCat("tokenizer_config.", key), "must be a string or {\"content\": ...}");
}

Status ParseChatTemplates(const Json& config, TokenizerParts* parts) {
  const Json* ct = JsonFind(config, "chat_template");
  if (ct == nullptr || ct->is_null()) return absl::OkStatus();
  if (ct->is_string()) {
    parts->chat_template = ct->get<std::string>();
    return absl::OkStatus();
  }
  if (!ct->is_array()) return JsonError("tokenizer_config.chat_template", "must be a string or a list");
  for (size_t i = 0; i < ct->size(); ++i) {
    const std::string where = StrCat("tokenizer_config.chat_template[", i, "]");
    const Json* name = JsonFind((*ct)[i], "name");
    const Json* tmpl = JsonFind((*ct)[i], "template");
    if (name == nullptr || tmpl == nullptr) return JsonError(where, "needs name and template");
    ASSIGN_OR_RETURN(std::string n, JsonString(*name, StrCat(where, ".name")));
    ASSIGN_OR_RETURN(std::string t, JsonString(*tmpl, StrCat(where, ".template")));
    if (n == "default") parts->chat_template = t;
    parts->chat_templates.emplace_back(std::move(n), std::move(t));
  }
  return absl::OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromHfJson(std::string_view json_text,
                                                           std::string_view config_text) {
  ASSIGN_OR_RETURN(Json root, tokenizer::ParseJson(json_text, "tokenizer.json"));
  if (!root.is_object()) return InvalidArgument("tokenizer.json: the top level must be an object");
  Json config = Json::object();
  if (!config_text.empty()) {
    ASSIGN_OR_RETURN(config, tokenizer::ParseJson(config_text, "tokenizer_config.json"));
    if (!config.is_object()) return InvalidArgument("tokenizer_config.json: must be an object");
  }
  TokenizerParts parts;
  parts.source = "tokenizer.json";

  const Json* model = JsonFind(root, "model");
  if (model == nullptr || !model->is_object()) return JsonError("tokenizer.json:", "has no model object");
  std::string type = "BPE";
  if (JsonFind(*model, "type") != nullptr) {
    ASSIGN_OR_RETURN(type, tokenizer::JsonType(*model, "model"));
  }
  if (type != "BPE" && type != "WordPiece") {
    return Unimplemented(StrCat("tokenizer.json: model type '", type, "' is not supported (BPE, WordPiece)"));
  }
  const Json* vocab = JsonFind(*model, "vocab");
  if (vocab == nullptr) return JsonError("model", "has no vocab");
  std::vector<std::pair<TokenId, std::string>> entries;
  RETURN_IF_ERROR(ParseVocab(*vocab, &entries));
  RETURN_IF_ERROR(ParseAddedTokens(root, &parts.added));

  // Vocabulary size and the id -> piece table; ids must be dense enough to index directly.
  int64_t max_id = -1;
  for (const auto& [id, piece] : entries) max_id = std::max<int64_t>(max_id, id);
  for (const auto& a : parts.added) max_id = std::max<int64_t>(max_id, a.id);
  const int64_t num_named = static_cast<int64_t>(entries.size() + parts.added.size());
  if (max_id < 0) return InvalidArgument("tokenizer.json: the vocabulary is empty");
  if (max_id >= 2 * num_named + 1024) {
    return InvalidArgument(StrCat("tokenizer.json: token id ", max_id, " is far beyond the ",
                                  num_named, " tokens defined (ids must be dense)"));
  }
  parts.tokens.assign(max_id + 1, tokenizer::TokenInfo{"", 0.0f, TokenType::kUnused});
  std::vector<uint8_t> seen(max_id + 1, 0);
  for (auto& [id, piece] : entries) {
    if (seen[id]) return InvalidArgument(StrCat("tokenizer.json: model.vocab assigns id ", id, " twice"));
    seen[id] = 1;
    parts.vocab->try_emplace(piece, id);
    parts.tokens[id] = {std::move(piece), 0.0f, TokenType::kNormal};
  }
  for (const auto& a : parts.added) {
    parts.tokens[a.id].piece = a.content;
    parts.tokens[a.id].type = a.special ? TokenType::kControl : TokenType::kUserDefined;
  }

  // The model.
  ASSIGN_OR_RETURN(std::string unk_piece, tokenizer::JsonStringOr(*model, "unk_token", "", "model"));
  if (!unk_piece.empty()) {
    parts.unk_id = tokenizer::FindPiece(*parts.vocab, unk_piece);
    if (parts.unk_id < 0) {
      return InvalidArgument(StrCat("tokenizer.json: model.unk_token '", unk_piece, "' is not in the vocabulary"));
    }
    parts.tokens[parts.unk_id].type = TokenType::kUnknown;
  }
  if (type == "WordPiece") {
    ASSIGN_OR_RETURN(std::string prefix,
                     tokenizer::JsonStringOr(*model, "continuing_subword_prefix", "##", "model"));
    size_t max_len = 1;
    for (const auto& t : parts.tokens) max_len = std::max(max_len, t.piece.size());
    parts.model = std::make_unique<tokenizer::WordPieceModel>(parts.vocab.get(), "", prefix,
                                                              parts.unk_id, max_len + prefix.size());
  } else {
    tokenizer::BpeOptions opt;
    ASSIGN_OR_RETURN(opt.byte_fallback, JsonBoolOr(*model, "byte_fallback", false, "model"));
    ASSIGN_OR_RETURN(opt.fuse_unk, JsonBoolOr(*model, "fuse_unk", false, "model"));
    ASSIGN_OR_RETURN(opt.ignore_merges, JsonBoolOr(*model, "ignore_merges", false, "model"));
    opt.unk_id = parts.unk_id;
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      ASSIGN_OR_RETURN(std::string v, tokenizer::JsonStringOr(*model, key, "", "model"));
      if (!v.empty()) return Unimplemented(StrCat("tokenizer.json: model.", key, " is not supported"));
    }
    if (const Json* d = JsonFind(*model, "dropout"); d != nullptr && !d->is_null()) {
      if (!d->is_number()) return JsonError("model.dropout", "must be a number or null");
      if (d->get<double>() != 0.0) return Unimplemented("tokenizer.json: BPE dropout is not supported");
    }
    if (opt.byte_fallback) {
      const auto bytes = tokenizer::FindByteTokens(parts.tokens);
      for (TokenId id : bytes) {
        if (id >= 0 && parts.tokens[id].type == TokenType::kNormal) parts.tokens[id].type = TokenType::kByte;
      }
    }
    auto bpe = std::make_unique<tokenizer::BpeModel>(parts.vocab.get(), parts.tokens, opt);
    const Json* merges = JsonFind(*model, "merges");
    if (merges != nullptr && !merges->is_null()) {
      if (!merges->is_array()) return JsonError("model.merges", "must be an array");
      if (merges->size() > kMaxMerges) return JsonError("model.merges", "has too many entries");
      std::string left, right;
      for (size_t i = 0; i < merges->size(); ++i) {
        RETURN_IF_ERROR(ParseMerge((*merges)[i], i, &left, &right));
        Status s = bpe->AddMerge(left, right, static_cast<int32_t>(i));
        if (!s.ok()) return InvalidArgument(StrCat("tokenizer.json: model.", s.message()));
      }
    }
    parts.model = std::move(bpe);
  }

  // Pipeline components.
  static const Json kNull;
  const Json* n = JsonFind(root, "normalizer");
  ASSIGN_OR_RETURN(parts.normalizer, tokenizer::Normalizer::FromJson(n ? *n : kNull, "normalizer"));
  const Json* p = JsonFind(root, "pre_tokenizer");
  ASSIGN_OR_RETURN(parts.pre_tokenizer,
                   tokenizer::PreTokenizer::FromJson(p ? *p : kNull, "pre_tokenizer"));
  const Json* d = JsonFind(root, "decoder");
  ASSIGN_OR_RETURN(parts.decoder, tokenizer::Decoder::FromJson(d ? *d : kNull, "decoder"));
  const Json* pp = JsonFind(root, "post_processor");
  RETURN_IF_ERROR(ParsePostProcessor(pp ? *pp : kNull, "post_processor", 0, &parts.prefix_ids,
                                     &parts.suffix_ids));

  // tokenizer_config.json: special tokens, add_bos/add_eos overrides, chat templates.
  auto find_token = [&](const std::string& piece) -> TokenId {
    for (const auto& a : parts.added) {
      if (a.content == piece) return a.id;
    }
    return tokenizer::FindPiece(*parts.vocab, piece);
  };
  auto config_id = [&](std::string_view key, TokenId* out) -> Status {
    ASSIGN_OR_RETURN(std::string piece, ConfigToken(config, key));
    if (piece.empty()) return absl::OkStatus();
    const TokenId id = find_token(piece);
    if (id < 0) {
      return InvalidArgument(StrCat("tokenizer_config.json: ", key, " '", piece, "' is not in the vocabulary"));
    }
    *out = id;
    return absl::OkStatus();
  };
  if (!parts.prefix_ids.empty()) parts.bos_id = parts.prefix_ids.front();
  RETURN_IF_ERROR(config_id("bos_token", &parts.bos_id));
  RETURN_IF_ERROR(config_id("eos_token", &parts.eos_id));
  RETURN_IF_ERROR(config_id("unk_token", &parts.unk_id));
  RETURN_IF_ERROR(config_id("pad_token", &parts.pad_id));
  if (const Json* v = JsonFind(config, "add_bos_token"); v != nullptr && !v->is_null()) {
    ASSIGN_OR_RETURN(bool add, tokenizer::JsonBool(*v, "tokenizer_config.add_bos_token"));
    parts.prefix_ids.clear();
    if (add && parts.bos_id < 0) return InvalidArgument("tokenizer_config.json: add_bos_token without a bos_token");
    if (add) parts.prefix_ids.push_back(parts.bos_id);
  }
  if (const Json* v = JsonFind(config, "add_eos_token"); v != nullptr && !v->is_null()) {
    ASSIGN_OR_RETURN(bool add, tokenizer::JsonBool(*v, "tokenizer_config.add_eos_token"));
    parts.suffix_ids.clear();
    if (add && parts.eos_id < 0) return InvalidArgument("tokenizer_config.json: add_eos_token without an eos_token");
    if (add) parts.suffix_ids.push_back(parts.eos_id);
  }
  RETURN_IF_ERROR(ParseChatTemplates(config, &parts));
  return Create(std::move(parts));
}

}  // namespace pagellm
