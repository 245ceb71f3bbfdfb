// SafetensorsCheckpoint: single files and sharded checkpoints (index.json weight_map).
#include "src/format/safetensors_checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "nlohmann/json.hpp"

namespace pagellm {
namespace {
namespace fs = std::filesystem;
constexpr uint64_t kMaxIndexBytes = 100ull << 20;
}  // namespace

Status SafetensorsCheckpoint::AddFile(std::unique_ptr<SafetensorsFile> file) {
  for (const auto& t : file->tensors()) {
    auto [it, inserted] = index_.emplace(t.name, &t);
    if (!inserted) {
      return InvalidArgument(StrCat("duplicate tensor name '", t.name, "' in ", file->name(),
                                    " (already in another shard)"));
    }
  }
  files_.push_back(std::move(file));
  return absl::OkStatus();
}

StatusOr<std::unique_ptr<SafetensorsCheckpoint>> SafetensorsCheckpoint::Open(
    const std::string& path) {
  std::error_code ec;
  fs::path p(path);
  if (fs::is_directory(p, ec)) {
    if (fs::exists(p / kIndexFileName, ec)) {
      p /= kIndexFileName;
    } else if (fs::exists(p / kSingleFileName, ec)) {
      p /= kSingleFileName;
    } else {
      return NotFound(StrCat(path, " holds neither ", kSingleFileName, " nor ", kIndexFileName));
    }
  }
  std::unique_ptr<SafetensorsCheckpoint> ckpt(new SafetensorsCheckpoint());
  if (p.extension() != ".json") {
    ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(p.string()));
    RETURN_IF_ERROR(ckpt->AddFile(std::move(file)));
    return ckpt;
  }

  const std::string index_path = p.string();
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(index_path, kMaxIndexBytes));
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(StrCat(index_path, ": not valid JSON: ", e.what()));
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    return InvalidArgument(StrCat(index_path, ": no \"weight_map\" object"));
  }
  // shard file -> tensor names the index places there
  std::map<std::string, std::vector<std::string>> shards;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    if (!shard.is_string()) {
      return InvalidArgument(StrCat(index_path, ": weight_map entry '", name, "' is not a string"));
    }
    const std::string file = shard.get<std::string>();
    if (file.empty() || file.find('/') != std::string::npos ||
        file.find('\\') != std::string::npos || file == "." || file == "..") {
      return InvalidArgument(StrCat(index_path, ": weight_map entry '", name, "' names shard '",
                                    file, "', which is not a plain file name"));
    }
    shards[file].push_back(name);
  }
  if (shards.empty()) return InvalidArgument(StrCat(index_path, ": weight_map is empty"));
  const fs::path dir = p.parent_path();
  for (const auto& [file, names] : shards) {
    ASSIGN_OR_RETURN(auto shard, SafetensorsFile::Open((dir / file).string()));
    for (const auto& name : names) {
      if (shard->Find(name) == nullptr) {
        return NotFound(StrCat(index_path, ": tensor '", name, "' is mapped to ", file,
                               ", which does not hold it"));
      }
    }
    RETURN_IF_ERROR(ckpt->AddFile(std::move(shard)));
  }
  return ckpt;
}

const SafetensorsTensor* SafetensorsCheckpoint::Find(std::string_view name) const {
  auto it = index_.find(ToAbsl(name));
  return it == index_.end() ? nullptr : it->second;
}

std::vector<std::string_view> SafetensorsCheckpoint::Names() const {
  std::vector<std::string_view> names;
  names.reserve(index_.size());
  for (const auto& [name, t] : index_) names.push_back(t->name);
  std::sort(names.begin(), names.end());
  return names;
}

uint64_t SafetensorsCheckpoint::total_bytes() const {
  uint64_t n = 0;
  for (const auto& f : files_) n += f->bytes().size();
  return n;
}

}  // namespace pagellm
