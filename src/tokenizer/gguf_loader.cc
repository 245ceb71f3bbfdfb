// Tokenizer::FromGguf: tokenizer.ggml.* metadata -> TokenizerParts ("llama", "gpt2", "bert").
#include <algorithm>
#include <cctype>

#include "src/tokenizer/gguf_pre_tokenizers.h"
#include "src/tokenizer/json_util.h"
#include "src/tokenizer/tokenizer.h"
#include "src/tokenizer/tokenizer_internal.h"

namespace pagellm {
namespace {

using tokenizer::AddedToken;
using tokenizer::TokenizerParts;

constexpr std::string_view kMetaspace = "\xE2\x96\x81";

// A special-token id key: absent, or a value outside the vocabulary (llama.cpp's convention,
// e.g. 0xFFFFFFFF for "none"), yields `def`.
StatusOr<TokenId> SpecialId(const GgufFile& gguf, std::string_view key, TokenId def, int64_t n) {
  ASSIGN_OR_RETURN(int64_t v, gguf.GetIntOr(key, def));
  return v >= 0 && v < n ? static_cast<TokenId>(v) : (def >= 0 && def < n ? def : -1);
}

// tokenizer.ggml.scores: float32 (or int32) per token; absent means all zero.
StatusOr<std::vector<float>> Scores(const GgufFile& gguf, size_t n) {
  std::vector<float> scores(n, 0.0f);
  const GgufValue* v = gguf.Find("tokenizer.ggml.scores");
  if (v == nullptr) return scores;
  if (v->type != GgufType::kArray || v->count < n) {
    return InvalidArgument(StrCat("GGUF: tokenizer.ggml.scores must be an array of at least ", n,
                                  " numbers"));
  }
  if (v->elem_type == GgufType::kFloat32 || v->elem_type == GgufType::kFloat64) {
    ASSIGN_OR_RETURN(std::vector<double> d, gguf.GetFloatArray("tokenizer.ggml.scores"));
    for (size_t i = 0; i < n; ++i) scores[i] = static_cast<float>(d[i]);
  } else {
    ASSIGN_OR_RETURN(std::vector<int64_t> d, gguf.GetIntArray("tokenizer.ggml.scores"));
    for (size_t i = 0; i < n; ++i) scores[i] = static_cast<float>(d[i]);
  }
  return scores;
}

Status ReadChatTemplates(const GgufFile& gguf, TokenizerParts* parts) {
  if (gguf.Find("tokenizer.chat_template") != nullptr) {
    ASSIGN_OR_RETURN(std::string_view t, gguf.GetString("tokenizer.chat_template"));
    parts->chat_template = std::string(t);
  }
  if (gguf.Find("tokenizer.chat_templates") != nullptr) {
    ASSIGN_OR_RETURN(auto names, gguf.GetStringArray("tokenizer.chat_templates"));
    for (std::string_view name : names) {
      const std::string key = StrCat("tokenizer.chat_template.", name);
      if (gguf.Find(key) == nullptr) continue;
      ASSIGN_OR_RETURN(std::string_view t, gguf.GetString(key));
      parts->chat_templates.emplace_back(std::string(name), std::string(t));
    }
  }
  return absl::OkStatus();
}

// Control/unknown tokens become special added tokens, user-defined ones non-special added
// tokens (always matched in text, as llama.cpp does).
void CollectAddedTokens(const GgufFile& gguf, TokenizerParts* parts) {
  std::string name;
  if (auto s = gguf.GetString("general.name"); s.ok()) name = std::string(*s);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // llama.cpp's Phi-3 rule: its special tokens swallow the white space after them.
  const bool phi3 = name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos;
  for (size_t i = 0; i < parts->tokens.size(); ++i) {
    const auto& t = parts->tokens[i];
    const bool user = t.type == TokenType::kUserDefined;
    if (!user && t.type != TokenType::kControl && t.type != TokenType::kUnknown) continue;
    if (t.piece.empty()) continue;
    AddedToken a;
    a.id = static_cast<TokenId>(i);
    a.content = t.piece;
    a.special = !user;
    if (phi3) {
      a.rstrip = t.piece != "<unk>" && t.piece != "<s>" && t.piece != "<|endoftext|>";
    }
    parts->added.push_back(std::move(a));
  }
}

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const GgufFile& gguf) {
  TokenizerParts parts;
  parts.source = "GGUF";
  ASSIGN_OR_RETURN(std::string_view model, gguf.GetString("tokenizer.ggml.model"));
  ASSIGN_OR_RETURN(auto pieces, gguf.GetStringArray("tokenizer.ggml.tokens"));
  const int64_t n = static_cast<int64_t>(pieces.size());
  if (n == 0) return InvalidArgument("GGUF: tokenizer.ggml.tokens is empty");
  if (n > tokenizer::kMaxVocabSize) {
    return InvalidArgument(StrCat("GGUF: ", n, " tokens exceed the vocabulary limit"));
  }
  ASSIGN_OR_RETURN(std::vector<float> scores, Scores(gguf, n));
  std::vector<int64_t> types;
  if (gguf.Find("tokenizer.ggml.token_type") != nullptr) {
    ASSIGN_OR_RETURN(types, gguf.GetIntArray("tokenizer.ggml.token_type"));
    if (static_cast<int64_t>(types.size()) < n) {
      return InvalidArgument("GGUF: tokenizer.ggml.token_type is shorter than the token list");
    }
  }
  parts.tokens.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    auto& t = parts.tokens[i];
    if (pieces[i].size() > tokenizer::kMaxPieceBytes) {
      return InvalidArgument(StrCat("GGUF: token ", i, " is ", pieces[i].size(), " bytes long"));
    }
    t.piece = std::string(pieces[i]);
    t.score = scores[i];
    const int64_t type = types.empty() ? 1 : types[i];
    t.type = type >= 1 && type <= 6 ? static_cast<TokenType>(type) : TokenType::kUndefined;
    parts.vocab->try_emplace(t.piece, static_cast<TokenId>(i));
  }
  std::string_view pre;
  if (gguf.Find("tokenizer.ggml.pre") != nullptr) {
    ASSIGN_OR_RETURN(pre, gguf.GetString("tokenizer.ggml.pre"));
  }

  bool add_bos = false, add_sep = false;
  if (model == "llama") {
    ASSIGN_OR_RETURN(parts.bos_id, SpecialId(gguf, "tokenizer.ggml.bos_token_id", 1, n));
    ASSIGN_OR_RETURN(parts.eos_id, SpecialId(gguf, "tokenizer.ggml.eos_token_id", 2, n));
    ASSIGN_OR_RETURN(parts.unk_id, SpecialId(gguf, "tokenizer.ggml.unknown_token_id", 0, n));
    if (types.empty()) {
      const auto bytes = tokenizer::FindByteTokens(parts.tokens);
      for (TokenId id : bytes) {
        if (id >= 0) parts.tokens[id].type = TokenType::kByte;
      }
      for (TokenId id : {parts.bos_id, parts.eos_id}) {
        if (id >= 0) parts.tokens[id].type = TokenType::kControl;
      }
      if (parts.unk_id >= 0) parts.tokens[parts.unk_id].type = TokenType::kUnknown;
    }
    ASSIGN_OR_RETURN(bool space_prefix, gguf.GetBoolOr("tokenizer.ggml.add_space_prefix", true));
    parts.normalizer = std::make_unique<tokenizer::Normalizer>();
    if (space_prefix) parts.normalizer->AddPrepend(std::string(kMetaspace));
    parts.normalizer->AddReplace(" ", std::string(kMetaspace));
    parts.model = std::make_unique<tokenizer::SpmModel>(parts.tokens, parts.unk_id);
    parts.decoder = tokenizer::Decoder::SentencePiece(space_prefix);
    add_bos = true;
  } else if (model == "gpt2") {
    const tokenizer::GgufPreTokenizer* def = tokenizer::FindGgufPreTokenizer(pre);
    if (def == nullptr) {
      return Unimplemented(StrCat("GGUF: tokenizer.ggml.pre '", pre, "' is not supported"));
    }
    ASSIGN_OR_RETURN(tokenizer::Json pt, tokenizer::ParseJson(def->pre_tokenizer_json, "pre"));
    ASSIGN_OR_RETURN(parts.pre_tokenizer, tokenizer::PreTokenizer::FromJson(pt, "pre_tokenizer"));
    if (def->normalizer_json != nullptr) {
      ASSIGN_OR_RETURN(tokenizer::Json nj, tokenizer::ParseJson(def->normalizer_json, "norm"));
      ASSIGN_OR_RETURN(parts.normalizer, tokenizer::Normalizer::FromJson(nj, "normalizer"));
    }
    ASSIGN_OR_RETURN(parts.bos_id, SpecialId(gguf, "tokenizer.ggml.bos_token_id", -1, n));
    ASSIGN_OR_RETURN(parts.eos_id, SpecialId(gguf, "tokenizer.ggml.eos_token_id", -1, n));
    ASSIGN_OR_RETURN(parts.unk_id, SpecialId(gguf, "tokenizer.ggml.unknown_token_id", -1, n));
    tokenizer::BpeOptions opt;
    opt.ignore_merges = def->ignore_merges;
    auto bpe = std::make_unique<tokenizer::BpeModel>(parts.vocab.get(), parts.tokens, opt);
    ASSIGN_OR_RETURN(auto merges, gguf.GetStringArray("tokenizer.ggml.merges"));
    for (size_t i = 0; i < merges.size(); ++i) {
      const std::string_view m = merges[i];
      const size_t sp = m.find(' ', 1);
      if (sp == std::string_view::npos || sp + 1 >= m.size()) {
        return InvalidArgument(StrCat("GGUF: tokenizer.ggml.merges[", i, "] '", m,
                                      "' is not \"left right\""));
      }
      Status s = bpe->AddMerge(m.substr(0, sp), m.substr(sp + 1), static_cast<int32_t>(i));
      if (!s.ok()) return InvalidArgument(StrCat("GGUF: tokenizer.ggml.", s.message()));
    }
    parts.model = std::move(bpe);
    parts.decoder = tokenizer::Decoder::ByteLevel();
    add_bos = def->add_bos;
  } else if (model == "bert") {
    ASSIGN_OR_RETURN(parts.bos_id, SpecialId(gguf, "tokenizer.ggml.cls_token_id", 101, n));
    ASSIGN_OR_RETURN(parts.bos_id, SpecialId(gguf, "tokenizer.ggml.bos_token_id", parts.bos_id, n));
    ASSIGN_OR_RETURN(TokenId sep, SpecialId(gguf, "tokenizer.ggml.seperator_token_id", 102, n));
    ASSIGN_OR_RETURN(parts.unk_id, SpecialId(gguf, "tokenizer.ggml.unknown_token_id", 100, n));
    ASSIGN_OR_RETURN(bool lower, gguf.GetBoolOr("tokenizer.ggml.normalizer.lowercase", true));
    ASSIGN_OR_RETURN(bool strip, gguf.GetBoolOr("tokenizer.ggml.normalizer.strip_accents", lower));
    parts.normalizer = std::make_unique<tokenizer::Normalizer>();
    parts.normalizer->AddBert(true, true, strip, lower);
    ASSIGN_OR_RETURN(parts.pre_tokenizer, tokenizer::PreTokenizer::FromJson(
                                              tokenizer::Json{{"type", "BertPreTokenizer"}}, "pre"));
    size_t max_len = 1;
    for (const auto& t : parts.tokens) max_len = std::max(max_len, t.piece.size());
    parts.model = std::make_unique<tokenizer::WordPieceModel>(
        parts.vocab.get(), std::string(kMetaspace), "", parts.unk_id, max_len);
    parts.decoder = tokenizer::Decoder::SentencePiece(true);
    add_bos = true;
    ASSIGN_OR_RETURN(add_sep, gguf.GetBoolOr("tokenizer.ggml.add_sep_token", true));
    if (add_sep && sep >= 0) parts.suffix_ids.push_back(sep);
  } else {
    return Unimplemented(StrCat("GGUF: tokenizer.ggml.model '", model,
                                "' is not supported (llama, gpt2, bert)"));
  }
  ASSIGN_OR_RETURN(parts.pad_id, SpecialId(gguf, "tokenizer.ggml.padding_token_id", -1, n));
  for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    ASSIGN_OR_RETURN(TokenId id, SpecialId(gguf, key, -1, n));
    if (id >= 0) parts.extra_eos_ids.push_back(id);
  }
  ASSIGN_OR_RETURN(add_bos, gguf.GetBoolOr("tokenizer.ggml.add_bos_token", add_bos));
  ASSIGN_OR_RETURN(bool add_eos, gguf.GetBoolOr("tokenizer.ggml.add_eos_token", false));
  if (add_bos) {
    if (parts.bos_id < 0) return InvalidArgument("GGUF: add_bos_token is set but there is no BOS");
    parts.prefix_ids.push_back(parts.bos_id);
  }
  if (add_eos) {
    if (parts.eos_id < 0) return InvalidArgument("GGUF: add_eos_token is set but there is no EOS");
    parts.suffix_ids.push_back(parts.eos_id);
  }
  CollectAddedTokens(gguf, &parts);
  RETURN_IF_ERROR(ReadChatTemplates(gguf, &parts));
  return Create(std::move(parts));
}

}  // namespace pagellm
