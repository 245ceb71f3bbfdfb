// Test helpers for src/tokenizer: llama.cpp vector files.
#include "src/tokenizer/tokenizer_testutil.h"

#include <sstream>

#include <map>
#include <mutex>

#include "gtest/gtest.h"
#include "src/base/mapped_file.h"
#include "src/format/gguf.h"
#include "src/testing/testing.h"

namespace pagellm::testing {

StatusOr<std::vector<VocabVector>> ReadVocabVectors(const std::filesystem::path& inp,
                                                    const std::filesystem::path& out) {
  ASSIGN_OR_RETURN(std::string raw, ReadFileToString(inp.string()));
  ASSIGN_OR_RETURN(std::string expected, ReadFileToString(out.string()));
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  size_t pos = 0;
  while (pos < raw.size()) {
    const size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      inputs.push_back(raw.substr(pos));
      break;
    }
    inputs.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<std::string> lines;
  std::istringstream in(expected);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  if (lines.size() != inputs.size()) {
    return InvalidArgument(StrCat(inp.string(), ": ", inputs.size(), " inputs but ", lines.size(),
                                  " expected lines"));
  }
  std::vector<VocabVector> vectors;
  for (size_t i = 0; i < inputs.size(); ++i) {
    VocabVector v;
    v.text = inputs[i];
    std::istringstream ids(lines[i]);
    for (long long id; ids >> id;) v.ids.push_back(static_cast<TokenId>(id));
    vectors.push_back(std::move(v));
  }
  return vectors;
}

std::string IdsToString(const std::vector<TokenId>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += StrCat(i ? ", " : "", ids[i]);
  return s + "]";
}

std::vector<TokenId> EncodePlain(const Tokenizer& tok, const std::string& text) {
  auto ids = tok.Encode(text, {.add_special = false, .parse_special = false});
  EXPECT_TRUE(ids.ok()) << ids.status();
  return ids.ok() ? *ids : std::vector<TokenId>();
}

namespace {

std::mutex& CacheMutex() {
  static std::mutex* const kMutex = new std::mutex();
  return *kMutex;
}

std::map<std::string, std::unique_ptr<Tokenizer>>& Cache() {
  static auto* const kCache = new std::map<std::string, std::unique_ptr<Tokenizer>>();
  return *kCache;
}

}  // namespace

const Tokenizer* SharedHfTokenizer(const std::string& dir) {
  std::lock_guard<std::mutex> lock(CacheMutex());
  const std::string key = "hf:" + dir;
  auto it = Cache().find(key);
  if (it != Cache().end()) return it->second.get();
  auto json = SharedFile("tokenizers/" + dir + "/tokenizer.json");
  if (!json) return nullptr;
  auto config = SharedFile("tokenizers/" + dir + "/tokenizer_config.json");
  auto t = Tokenizer::FromHfFiles(json->string(), config ? config->string() : "");
  if (!t.ok()) {
    ADD_FAILURE() << t.status();
    return nullptr;
  }
  return (Cache()[key] = std::move(*t)).get();
}

const Tokenizer* SharedGgufVocab(const std::string& name) {
  std::lock_guard<std::mutex> lock(CacheMutex());
  const std::string key = "gguf:" + name;
  auto it = Cache().find(key);
  if (it != Cache().end()) return it->second.get();
  auto path = SharedFile("tokenizers/llama.cpp-vocab/ggml-vocab-" + name + ".gguf");
  if (!path) return nullptr;
  auto gguf = GgufFile::Open(path->string());
  if (!gguf.ok()) {
    ADD_FAILURE() << gguf.status();
    return nullptr;
  }
  auto t = Tokenizer::FromGguf(**gguf);
  if (!t.ok()) {
    ADD_FAILURE() << t.status();
    return nullptr;
  }
  return (Cache()[key] = std::move(*t)).get();
}

}  // namespace pagellm::testing
