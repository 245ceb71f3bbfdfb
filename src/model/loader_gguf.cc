// LoadGguf: a GGUF file (arch llama | qwen2 | qwen3), views straight into the mapped file.
#include <filesystem>

#include "src/format/gguf.h"
#include "src/model/loader_internal.h"

namespace pagellm::loader_internal {

StatusOr<LoadedModel> LoadGguf(const std::string& path, const LoadOptions& options) {
  LoadedModel out;
  out.format = ModelFormat::kGguf;
  out.path = path;
  ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> file, GgufFile::Open(path));
  std::shared_ptr<const GgufFile> gguf(std::move(file));
  auto config = ConfigFromGguf(*gguf);
  if (!config.ok()) return Status(config.status().code(), StrCat(path, ": ", config.status().message()));
  out.config = *std::move(config);
  if (out.config.architecture == "qwen3" && !out.config.qk_norm) {
    return NotFound(StrCat(path, ": qwen3 model without blk.0.attn_q_norm.weight"));
  }
  RETURN_IF_ERROR(ApplyOptions(options, &out));

  TensorMap tensors;
  for (const auto& t : gguf->tensors()) tensors.emplace(std::string(t.name), t.View());
  Status s = AssembleWeights(tensors, GgufNames(), "the GGUF metadata", &out);
  if (!s.ok()) return Status(s.code(), StrCat(path, ": ", s.message()));
  out.weights.keep_alive.push_back(gguf);
  out.gguf = gguf;
  Prefault({gguf->bytes()}, StrCat("Loading ", std::filesystem::path(path).filename().string()),
           options.show_progress);
  return out;
}

}  // namespace pagellm::loader_internal
