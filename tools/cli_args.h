// CliArgs: "--name value" / "--name=value" / "--switch" command lines, with the engine flag table.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/status.h"
#include "src/engine/engine_config.h"

namespace pagellm {

struct CliFlag {
  std::string_view name;        // without "--"
  std::string_view value_name;  // empty: a switch
  std::string_view help;
  std::function<Status(std::string_view)> set;
};

// Parses argv[first..] against the command's own flags, then the engine flags (into `config`).
// Positional arguments are appended to `positional` (nullptr: none allowed). "--help" sets *help.
Status ParseCli(int argc, char** argv, int first, const std::vector<CliFlag>& flags,
                EngineConfig* config, std::vector<std::string>* positional, bool* help);

std::string CliHelp(std::string_view usage, const std::vector<CliFlag>& flags, bool engine_flags);

}  // namespace pagellm
