// Engine::Create(config): model + tokenizer resolution and loading for every model format.
#include <filesystem>

#include "src/engine/engine.h"
#include "src/model/loader.h"

namespace pagellm {
namespace {

// The tokenizer named by --tokenizer: a tokenizer.json (with tokenizer_config.json beside it), a
// folder holding one, or a llama2.c tokenizer .bin.
StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerOverride(const std::string& path, int64_t vocab) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(path);
  if (fs::is_directory(p, ec)) p /= "tokenizer.json";
  if (p.extension() == ".json") {
    const fs::path cfg = p.parent_path() / "tokenizer_config.json";
    return Tokenizer::FromHfFiles(p.string(), fs::exists(cfg, ec) ? cfg.string() : "");
  }
  return Tokenizer::FromLlama2c(p.string(), static_cast<int>(vocab));
}

StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const LoadedModel& m) {
  switch (m.format) {
    case ModelFormat::kHuggingFace:
      if (m.tokenizer_json_path.empty()) {
        return NotFound(StrCat(m.path, " has no tokenizer.json; pass --tokenizer PATH"));
      }
      return Tokenizer::FromHfFiles(m.tokenizer_json_path, m.tokenizer_config_json_path);
    case ModelFormat::kGguf:
      return Tokenizer::FromGguf(*m.gguf);
    case ModelFormat::kLlama2c:
      if (m.llama2c_tokenizer_path.empty()) {
        return NotFound(StrCat("no tokenizer .bin beside ", m.path, "; pass --tokenizer PATH"));
      }
      return Tokenizer::FromLlama2c(m.llama2c_tokenizer_path, static_cast<int>(m.config.vocab_size));
  }
  return Internal("unknown model format");
}

}  // namespace

StatusOr<std::unique_ptr<Engine>> Engine::Create(const EngineConfig& config) {
  if (config.model.empty()) return InvalidArgument("no model given (--model PATH)");
  LoadOptions options;
  options.max_model_len = config.max_model_len;
  if (!config.tokenizer.empty()) options.tokenizer_path = config.tokenizer;
  ASSIGN_OR_RETURN(options.dtype, ParseWeightDType(config.dtype));
  ASSIGN_OR_RETURN(options.quantization, ParseQuantization(config.quantization));
  options.use_mmap = config.use_mmap;
  ASSIGN_OR_RETURN(LoadedModel loaded, LoadModel(config.model, options));
  std::unique_ptr<Tokenizer> tokenizer;
  if (!config.tokenizer.empty() && loaded.format != ModelFormat::kLlama2c) {
    ASSIGN_OR_RETURN(tokenizer, LoadTokenizerOverride(config.tokenizer, loaded.config.vocab_size));
  } else {
    ASSIGN_OR_RETURN(tokenizer, LoadTokenizer(loaded));
  }
  if (tokenizer->vocab_size() > loaded.config.vocab_size) {
    return InvalidArgument(StrCat("the tokenizer has ", tokenizer->vocab_size(),
                                  " tokens but the model only ", loaded.config.vocab_size));
  }
  ASSIGN_OR_RETURN(auto model, LlamaModel::Create(std::move(loaded.config), std::move(loaded.weights)));
  return Create(config, std::move(model), std::move(tokenizer));
}

}  // namespace pagellm
