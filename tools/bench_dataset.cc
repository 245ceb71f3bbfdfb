// ShareGPT loading and sampling.
#include "tools/bench_dataset.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "nlohmann/json.hpp"
#include "src/base/mapped_file.h"

namespace pagellm::bench {

StatusOr<std::vector<Conversation>> ParseShareGpt(std::string_view json, std::string_view name) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(StrCat(name, ": not valid JSON (", e.what(), ")"));
  }
  if (!doc.is_array()) {
    return InvalidArgument(StrCat(name, ": a ShareGPT dataset is a JSON list of {\"conversations\": [...]} entries, got ",
                                  doc.type_name()));
  }
  std::vector<Conversation> out;
  for (size_t i = 0; i < doc.size(); ++i) {
    const nlohmann::json& entry = doc[i];
    auto where = [&] { return StrCat(name, ": entry ", i); };
    if (!entry.is_object()) return InvalidArgument(StrCat(where(), " is not an object"));
    auto conv = entry.find("conversations");
    if (conv == entry.end()) return InvalidArgument(StrCat(where(), " has no \"conversations\""));
    if (!conv->is_array()) return InvalidArgument(StrCat(where(), ": \"conversations\" is not a list"));
    std::vector<std::string> turns;
    for (size_t t = 0; t < conv->size() && t < 2; ++t) {
      const nlohmann::json& turn = (*conv)[t];
      if (!turn.is_object()) return InvalidArgument(StrCat(where(), ", turn ", t, " is not an object"));
      auto value = turn.find("value");
      if (value == turn.end() || !value->is_string()) {
        return InvalidArgument(StrCat(where(), ", turn ", t, " has no string \"value\""));
      }
      turns.push_back(value->get<std::string>());
    }
    if (turns.size() < 2) continue;
    out.push_back({std::move(turns[0]), std::move(turns[1])});
  }
  return out;
}

StatusOr<std::vector<Conversation>> LoadShareGpt(const std::string& path) {
  auto text = ReadFileToString(path, size_t{4} << 30);
  if (!text.ok()) return Status(text.status().code(), StrCat("dataset ", path, ": ", text.status().message()));
  return ParseShareGpt(*text, path);
}

StatusOr<std::vector<BenchRequest>> SampleShareGpt(const std::vector<Conversation>& conversations, size_t n,
                                                   uint64_t seed, const TokenCounter& count_tokens,
                                                   int64_t max_len, int64_t fixed_output_len) {
  std::vector<size_t> order(conversations.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<BenchRequest> picked;
  for (size_t idx : order) {
    if (picked.size() >= n) break;
    const Conversation& c = conversations[idx];
    ASSIGN_OR_RETURN(int64_t prompt_len, count_tokens(c.prompt));
    int64_t output_len = fixed_output_len;
    if (output_len <= 0) {
      ASSIGN_OR_RETURN(output_len, count_tokens(c.completion));
    }
    if (prompt_len < 4 || output_len < 4) continue;
    if (max_len > 0 && prompt_len + output_len > max_len) continue;
    picked.push_back({.prompt_text = c.prompt, .prompt_ids = {}, .prompt_len = prompt_len, .output_len = output_len});
  }
  if (picked.empty()) {
    return InvalidArgument(StrCat("no usable conversation in the dataset (", conversations.size(),
                                  " with two turns; each needs >= 4 prompt and output tokens and at most ", max_len,
                                  " tokens in all)"));
  }
  for (size_t i = 0; picked.size() < n; ++i) picked.push_back(picked[i]);
  return picked;
}

}  // namespace pagellm::bench
