// The pagellm subcommands (each `int XMain(argc, argv)` with argv[1] the subcommand name).
#pragma once

#include <string>

#include "src/base/status.h"

namespace pagellm {

int GenerateMain(int argc, char** argv);
int ServeMain(int argc, char** argv);
int BenchMain(int argc, char** argv);  // argv[2]: latency | throughput | serve

// The model to load: `flag` if given, else $PAGELLM_MODEL, else ../shared's stories260K (HF
// folder, from $PAGELLM_SHARED_DIR or ../shared), else a stories260K downloaded earlier by
// scripts/default_model.sh into ~/.cache/pagellm.
StatusOr<std::string> ResolveModelPath(const std::string& flag);

}  // namespace pagellm
