// SafetensorsCheckpoint: every tensor of a model, from one .safetensors file or from the shards
// that a model.safetensors.index.json ("weight_map": tensor name -> shard file) lists.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/base/status.h"
#include "src/format/safetensors.h"

namespace pagellm {

class SafetensorsCheckpoint {
 public:
  static constexpr std::string_view kSingleFileName = "model.safetensors";
  static constexpr std::string_view kIndexFileName = "model.safetensors.index.json";

  // `path`: a .safetensors file, an index .json, or a folder holding model.safetensors or
  // model.safetensors.index.json. Shards named by the index must sit beside it (plain file names,
  // no directories); every tensor the index names must be in its shard, and no tensor may appear
  // in two shards.
  static StatusOr<std::unique_ptr<SafetensorsCheckpoint>> Open(const std::string& path);

  const SafetensorsTensor* Find(std::string_view name) const;
  // Every tensor name, sorted.
  std::vector<std::string_view> Names() const;
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }
  uint64_t total_bytes() const;

 private:
  SafetensorsCheckpoint() = default;
  Status AddFile(std::unique_ptr<SafetensorsFile> file);

  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  absl::flat_hash_map<std::string, const SafetensorsTensor*> index_;
};

}  // namespace pagellm
