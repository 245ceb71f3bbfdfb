// CliArgs: command-line parsing shared by every pagellm subcommand.
#include "tools/cli_args.h"

namespace pagellm {

Status ParseCli(int argc, char** argv, int first, const std::vector<CliFlag>& flags,
                EngineConfig* config, std::vector<std::string>* positional, bool* help) {
  for (int i = first; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      *help = true;
      continue;
    }
    if (arg.size() < 2 || arg.substr(0, 2) != "--") {
      if (arg.size() == 2 && arg[0] == '-' && arg != "-") {
        return InvalidArgument(StrCat("unknown option '", arg, "' (see --help)"));
      }
      if (positional == nullptr) return InvalidArgument(StrCat("unexpected argument '", arg, "'"));
      positional->emplace_back(arg);
      continue;
    }
    std::string_view name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string_view::npos) {
      value = std::string(name.substr(eq + 1));
      name = name.substr(0, eq);
      has_value = true;
    }
    auto take_value = [&](std::string_view value_name) -> Status {
      if (has_value || value_name.empty()) return absl::OkStatus();
      if (i + 1 >= argc) return InvalidArgument(StrCat("--", name, " needs a value (", value_name, ")"));
      value = argv[++i];
      return absl::OkStatus();
    };
    bool found = false;
    for (const CliFlag& f : flags) {
      if (f.name != name) continue;
      RETURN_IF_ERROR(take_value(f.value_name));
      RETURN_IF_ERROR(f.set(value));
      found = true;
      break;
    }
    if (found) continue;
    if (config != nullptr) {
      if (const EngineFlag* f = FindEngineFlag(name); f != nullptr && f->name == name) {
        RETURN_IF_ERROR(take_value(f->value_name));
        RETURN_IF_ERROR(f->set(*config, value));
        continue;
      }
    }
    return InvalidArgument(StrCat("unknown option '--", name, "' (see --help)"));
  }
  return absl::OkStatus();
}

std::string CliHelp(std::string_view usage, const std::vector<CliFlag>& flags, bool engine_flags) {
  std::string out = StrCat("usage: ", usage, "\n\noptions:\n");
  for (const CliFlag& f : flags) {
    std::string left = StrCat("  --", f.name, f.value_name.empty() ? "" : " ", f.value_name);
    if (left.size() < 34) left.resize(34, ' ');
    out += StrCat(left, " ", f.help, "\n");
  }
  if (engine_flags) out += StrCat("\nengine options:\n", EngineFlagsHelp());
  return out;
}

}  // namespace pagellm
