// LoadHf: a Hugging Face folder (config.json + single or sharded safetensors).
#include <filesystem>

#include "src/format/safetensors_checkpoint.h"
#include "src/model/loader_internal.h"

namespace pagellm::loader_internal {

StatusOr<LoadedModel> LoadHf(const std::string& dir, const LoadOptions& options) {
  namespace fs = std::filesystem;
  LoadedModel out;
  out.format = ModelFormat::kHuggingFace;
  out.path = dir;
  const fs::path root(dir);
  const std::string config_path = (root / "config.json").string();
  ASSIGN_OR_RETURN(const std::string config_text, ReadFileToString(config_path, 16ull << 20));
  ASSIGN_OR_RETURN(out.config, ConfigFromHfJson(config_text, config_path));
  RETURN_IF_ERROR(ApplyOptions(options, &out));

  ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsCheckpoint> ckpt, SafetensorsCheckpoint::Open(dir));
  std::shared_ptr<const SafetensorsCheckpoint> shared(std::move(ckpt));
  TensorMap tensors;
  for (const auto& file : shared->files()) {
    for (const auto& t : file->tensors()) tensors.emplace(t.name, t.View());
  }
  Status s = AssembleWeights(tensors, HfNames(), "config.json", &out);
  if (!s.ok()) return Status(s.code(), StrCat(dir, ": ", s.message()));
  out.weights.keep_alive.push_back(shared);

  std::error_code ec;
  if (fs::exists(root / "tokenizer.json", ec)) {
    out.tokenizer_json_path = (root / "tokenizer.json").string();
  }
  if (fs::exists(root / "tokenizer_config.json", ec)) {
    out.tokenizer_config_json_path = (root / "tokenizer_config.json").string();
  }
  std::vector<std::span<const uint8_t>> ranges;
  for (const auto& file : shared->files()) ranges.push_back(file->bytes());
  Prefault(ranges, StrCat("Loading ", root.filename().string()), options.show_progress);
  return out;
}

}  // namespace pagellm::loader_internal
