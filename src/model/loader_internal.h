// Loader internals shared by the per-format loaders: tensor maps, name schemes and the checked
// assembly of ModelWeights from named tensors.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/base/status.h"
#include "src/model/loader.h"

namespace pagellm::loader_internal {

// Every tensor a file holds, by name: its view, or why it cannot be used (e.g. an unsupported
// dtype; reported only if the model needs that tensor).
using TensorMap = absl::flat_hash_map<std::string, StatusOr<TensorView>>;

// Tensor names of one format; per-layer names contain "{}" where the layer index goes.
struct NameScheme {
  std::string embed, final_norm, lm_head, rope_freqs;
  std::string attn_norm, wq, wk, wv, bq, bk, bv, q_norm, k_norm, wo;
  std::string ffn_norm, w_gate, w_up, w_down;
};
const NameScheme& HfNames();
const NameScheme& GgufNames();

// Fills out->weights from `tensors` per `out->config`, checking every tensor's presence, dtype
// and shape. `config_source` names where the config came from ("config.json", ...) in errors.
// If the config says untied but lm_head is absent, the embedding is used (with a warning).
// Tensors not used are listed in out->unused_tensors.
Status AssembleWeights(const TensorMap& tensors, const NameScheme& names,
                       std::string_view config_source, LoadedModel* out);

// Applies options.max_model_len and re-validates the config.
Status ApplyOptions(const LoadOptions& options, LoadedModel* out);

// Pages the byte ranges in ahead of use: with a progress bar when stderr is a terminal and the
// ranges are big, else by asking the kernel to read ahead.
void Prefault(const std::vector<std::span<const uint8_t>>& ranges, std::string_view label,
              bool show_progress);

StatusOr<LoadedModel> LoadHf(const std::string& path, const LoadOptions& options);
StatusOr<LoadedModel> LoadGguf(const std::string& path, const LoadOptions& options);
StatusOr<LoadedModel> LoadLlama2c(const std::string& path, const LoadOptions& options);

}  // namespace pagellm::loader_internal
