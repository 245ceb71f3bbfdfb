// Synthetic SentencePiece-BPE vocabulary: generation and serialization.
#include "tools/make_model_vocab.h"

#include <cstdio>
#include <deque>

#include "absl/container/flat_hash_map.h"
#include "nlohmann/json.hpp"

namespace pagellm {
namespace {

constexpr std::string_view kSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's space
constexpr std::string_view kChatTemplate =
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}";

// Splits a UTF-8 string into characters.
std::vector<std::string> Chars(std::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
    out.emplace_back(s.substr(i, len));
    i += len;
  }
  return out;
}

}  // namespace

StatusOr<SyntheticVocab> MakeSyntheticVocab(int64_t size) {
  if (size < SyntheticVocab::kMinSize) {
    return InvalidArgument(StrCat("vocab size ", size, " is too small for a byte-fallback "
                                  "vocabulary (need at least ", SyntheticVocab::kMinSize, ")"));
  }
  SyntheticVocab v;
  v.pieces.reserve(static_cast<size_t>(size));
  auto add = [&](std::string piece, float score, int32_t type) {
    v.pieces.push_back(std::move(piece));
    v.scores.push_back(score);
    v.types.push_back(type);
  };
  add("<unk>", 0, 2);
  add("<s>", 0, 3);
  add("</s>", 0, 3);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    add(buf, 0, 6);
  }
  // Single characters: space, lower case, upper case, digits, punctuation.
  std::vector<std::string> chars = {std::string(kSpace)};
  for (char c = 'a'; c <= 'z'; ++c) chars.emplace_back(1, c);
  for (char c = 'A'; c <= 'Z'; ++c) chars.emplace_back(1, c);
  for (char c = '0'; c <= '9'; ++c) chars.emplace_back(1, c);
  for (char c : std::string_view(".,!?'\"-:;()")) chars.emplace_back(1, c);
  const auto total = static_cast<size_t>(size);
  for (const auto& c : chars) {
    if (v.pieces.size() == total) break;
    add(c, -static_cast<float>(v.pieces.size()), 1);
  }
  // Merged pieces, breadth first: "▁x" and "xy" pairs, then each piece extended by a letter.
  absl::flat_hash_map<std::string, int32_t> id;
  for (size_t i = 0; i < v.pieces.size(); ++i) id.emplace(v.pieces[i], static_cast<int32_t>(i));
  std::deque<std::string> frontier;
  frontier.emplace_back(kSpace);
  for (char c = 'a'; c <= 'z'; ++c) frontier.emplace_back(1, c);
  while (v.pieces.size() < total && !frontier.empty()) {
    const std::string base = frontier.front();
    frontier.pop_front();
    for (char c = 'a'; c <= 'z' && v.pieces.size() < total; ++c) {
      std::string piece = base + c;
      if (id.contains(piece)) continue;
      id.emplace(piece, static_cast<int32_t>(v.pieces.size()));
      add(piece, -static_cast<float>(v.pieces.size()), 1);
      frontier.push_back(std::move(piece));
    }
  }
  if (v.pieces.size() != total) return Internal("synthetic vocabulary ran out of pieces");
  // Merges: every split of each multi-character piece into two pieces, by result id.
  for (size_t i = 0; i < v.pieces.size(); ++i) {
    if (v.types[i] != 1) continue;
    const std::vector<std::string> cs = Chars(v.pieces[i]);
    std::string left;
    for (size_t k = 1; k < cs.size(); ++k) {
      left += cs[k - 1];
      const std::string right = v.pieces[i].substr(left.size());
      if (id.contains(left) && id.contains(right)) v.merges.emplace_back(left, right);
    }
  }
  return v;
}

std::string TokenizerJson(const SyntheticVocab& v) {
  using Json = nlohmann::ordered_json;
  Json added = Json::array();
  for (int i = 0; i < 3; ++i) {
    added.push_back({{"id", i}, {"content", v.pieces[static_cast<size_t>(i)]}, {"single_word", false},
                     {"lstrip", false}, {"rstrip", false}, {"normalized", false}, {"special", true}});
  }
  Json vocab = Json::object();
  for (size_t i = 0; i < v.pieces.size(); ++i) vocab[v.pieces[i]] = i;
  Json merges = Json::array();
  for (const auto& [l, r] : v.merges) merges.push_back({l, r});
  const Json bos_special = {{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}};
  Json j = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", kSpace}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}}}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {bos_special, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"pair",
         {bos_special, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
          {{"SpecialToken", {{"id", "<s>"}, {"type_id", 1}}}},
          {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", kSpace}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", "<unk>"},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", merges}}},
  };
  return j.dump(1);
}

std::string TokenizerConfigJson(int64_t model_max_length) {
  nlohmann::ordered_json j = {
      {"add_bos_token", true},
      {"add_eos_token", false},
      {"bos_token", "<s>"},
      {"eos_token", "</s>"},
      {"unk_token", "<unk>"},
      {"pad_token", nullptr},
      {"legacy", true},
      {"clean_up_tokenization_spaces", false},
      {"model_max_length", model_max_length},
      {"tokenizer_class", "LlamaTokenizer"},
      {"chat_template", kChatTemplate},
  };
  return j.dump(2);
}

void AddGgufTokenizer(const SyntheticVocab& v, GgufWriter* w) {
  w->SetString("tokenizer.ggml.model", "llama");
  w->SetStringArray("tokenizer.ggml.tokens", v.pieces);
  w->SetFloat32Array("tokenizer.ggml.scores", v.scores);
  w->SetInt32Array("tokenizer.ggml.token_type", v.types);
  w->SetUint32("tokenizer.ggml.unknown_token_id", 0);
  w->SetUint32("tokenizer.ggml.bos_token_id", 1);
  w->SetUint32("tokenizer.ggml.eos_token_id", 2);
  w->SetBool("tokenizer.ggml.add_bos_token", true);
  w->SetBool("tokenizer.ggml.add_eos_token", false);
  w->SetString("tokenizer.chat_template", kChatTemplate);
}

}  // namespace pagellm
