// EngineConfig: the flag table and value parsing.
#include "src/engine/engine_config.h"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "src/model/loader.h"

namespace pagellm {
namespace {

template <typename T>
Status ParseInt(std::string_view flag, std::string_view text, T min, T max, T* out) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(ToAbsl(text), &v) || v < static_cast<int64_t>(min) ||
      v > static_cast<int64_t>(max)) {
    return InvalidArgument(StrCat("--", flag, " expects an integer in [", min, ", ", max,
                                  "], got '", text, "'"));
  }
  *out = static_cast<T>(v);
  return absl::OkStatus();
}

Status ParseBool(std::string_view flag, std::string_view text, bool* out) {
  const std::string t = absl::AsciiStrToLower(ToAbsl(text));
  if (t.empty() || t == "1" || t == "true" || t == "yes" || t == "on") {
    *out = true;
  } else if (t == "0" || t == "false" || t == "no" || t == "off") {
    *out = false;
  } else {
    return InvalidArgument(StrCat("--", flag, " expects true or false, got '", text, "'"));
  }
  return absl::OkStatus();
}

#define INT_FLAG(NAME, FIELD, MIN, MAX, HELP)                                            \
  EngineFlag {                                                                           \
    NAME, "N", HELP, [](EngineConfig& c, std::string_view v) {                           \
      return ParseInt<decltype(c.FIELD)>(NAME, v, MIN, MAX, &c.FIELD);                   \
    }                                                                                    \
  }
#define BOOL_FLAG(NAME, FIELD, HELP)                                                     \
  EngineFlag {                                                                           \
    NAME, "", HELP, [](EngineConfig& c, std::string_view v) { return ParseBool(NAME, v, &c.FIELD); } \
  }
#define STRING_FLAG(NAME, FIELD, VALUE, HELP)                                            \
  EngineFlag {                                                                           \
    NAME, VALUE, HELP, [](EngineConfig& c, std::string_view v) {                         \
      c.FIELD = std::string(v);                                                          \
      return absl::OkStatus();                                                           \
    }                                                                                    \
  }

const std::vector<EngineFlag>& Table() {
  static const std::vector<EngineFlag> kFlags = {
      STRING_FLAG("model", model, "PATH", "HF folder, .gguf file or llama2.c .bin checkpoint"),
      STRING_FLAG("tokenizer", tokenizer, "PATH", "tokenizer.json / tokenizer .bin to use instead of the model's"),
      STRING_FLAG("served-model-name", served_model_name, "NAME", "model name reported by the API"),
      INT_FLAG("max-model-len", max_model_len, 0, int64_t{1} << 24, "context length (0: the model's)"),
      EngineFlag{"dtype", "TYPE", "weight matrices as auto (as stored) | f32 | bf16 | f16, converted at load",
                 [](EngineConfig& c, std::string_view v) -> Status {
                   if (!ParseWeightDType(v).ok()) {
                     return InvalidArgument(StrCat("--dtype expects auto, f32, bf16 or f16, got '", v, "'"));
                   }
                   c.dtype = absl::AsciiStrToLower(ToAbsl(v));
                   return absl::OkStatus();
                 }},
      EngineFlag{"quantization", "METHOD", "none | q8_0 | q4_0: quantize the weight matrices at load",
                 [](EngineConfig& c, std::string_view v) -> Status {
                   if (!ParseQuantization(v).ok()) {
                     return InvalidArgument(StrCat("--quantization expects none, q8_0 or q4_0, got '", v, "'"));
                   }
                   c.quantization = v.empty() ? std::string("none") : absl::AsciiStrToLower(ToAbsl(v));
                   return absl::OkStatus();
                 }},
      BOOL_FLAG("mmap", use_mmap, "run from the mmapped model files instead of copying the weights into memory "
                "(faster start; decode measured 1.6x slower from the page cache)"),
      INT_FLAG("block-size", block_size, 1, 1024, "tokens per KV cache block"),
      EngineFlag{"kv-cache-memory", "BYTES", "KV cache size, e.g. 512MiB or 4GiB",
                 [](EngineConfig& c, std::string_view v) -> Status {
                   ASSIGN_OR_RETURN(c.kv_cache_memory_bytes, ParseByteSize(v));
                   return absl::OkStatus();
                 }},
      INT_FLAG("num-blocks", num_blocks, 0, int64_t{1} << 30, "KV cache blocks (overrides --kv-cache-memory)"),
      BOOL_FLAG("enable-prefix-caching", enable_prefix_caching, "reuse KV blocks of common prefixes (default on)"),
      EngineFlag{"no-enable-prefix-caching", "", "turn prefix caching off",
                 [](EngineConfig& c, std::string_view v) -> Status {
                   bool off = true;
                   RETURN_IF_ERROR(ParseBool("no-enable-prefix-caching", v, &off));
                   c.enable_prefix_caching = !off;
                   return absl::OkStatus();
                 }},
      INT_FLAG("max-num-seqs", max_num_seqs, 1, 1 << 16, "sequences running at once"),
      INT_FLAG("max-num-batched-tokens", max_num_batched_tokens, 1, 1 << 24, "token budget of one engine step"),
      BOOL_FLAG("enable-chunked-prefill", enable_chunked_prefill, "split long prompts over steps (default on)"),
      BOOL_FLAG("priority-scheduling", priority_scheduling, "schedule by request priority, then arrival"),
      INT_FLAG("max-num-waiting", max_num_waiting, 1, 1 << 24, "bound of the waiting queue"),
      INT_FLAG("threads", threads, 0, 1024, "compute threads (0: all cores)"),
      EngineFlag{"seed", "N", "base seed of unseeded requests (0: random)",
                 [](EngineConfig& c, std::string_view v) -> Status {
                   uint64_t s = 0;
                   if (!absl::SimpleAtoi(ToAbsl(v), &s)) {
                     return InvalidArgument(StrCat("--seed expects a non-negative integer, got '", v, "'"));
                   }
                   c.seed = s;
                   return absl::OkStatus();
                 }},
      INT_FLAG("max-n", limits.max_n, 1, 1 << 16, "largest n / best_of a request may ask for"),
      INT_FLAG("max-logprobs", limits.max_logprobs, 0, 1 << 16, "largest logprobs / prompt_logprobs"),
      INT_FLAG("max-stop-strings", limits.max_stop_strings, 0, 1 << 16, "stop strings per request at most"),
      INT_FLAG("max-stop-string-bytes", limits.max_stop_string_bytes, 1, 1 << 20, "bytes per stop string at most"),
  };
  return kFlags;
}

}  // namespace

std::string EngineConfig::DisplayName() const {
  if (!served_model_name.empty()) return served_model_name;
  std::filesystem::path p(model);
  if (p.has_filename()) return p.filename().string();
  return p.parent_path().filename().string();
}

std::span<const EngineFlag> EngineFlags() { return Table(); }

const EngineFlag* FindEngineFlag(std::string_view name) {
  std::string dashed(name);
  for (char& ch : dashed) {
    if (ch == '_') ch = '-';
  }
  for (const EngineFlag& f : Table()) {
    if (f.name == dashed) return &f;
  }
  return nullptr;
}

std::string EngineFlagsHelp() {
  std::string out;
  for (const EngineFlag& f : Table()) {
    std::string left = StrCat("  --", f.name, f.value_name.empty() ? "" : " ", f.value_name);
    if (left.size() < 34) left.resize(34, ' ');
    out += StrCat(left, " ", f.help, "\n");
  }
  return out;
}

StatusOr<uint64_t> ParseByteSize(std::string_view text) {
  const std::string t = absl::AsciiStrToLower(ToAbsl(text));
  size_t i = 0;
  while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
  double number = 0;
  if (i == 0 || !absl::SimpleAtod(ToAbsl(std::string_view(t).substr(0, i)), &number)) {
    return InvalidArgument(StrCat("cannot read a size from '", text, "' (e.g. 512MiB, 4GiB)"));
  }
  const std::string unit(absl::StripAsciiWhitespace(ToAbsl(std::string_view(t).substr(i))));
  double mult = 1;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "k" || unit == "kb") mult = 1e3;
  else if (unit == "kib") mult = 1024.0;
  else if (unit == "m" || unit == "mb") mult = 1e6;
  else if (unit == "mib") mult = 1024.0 * 1024;
  else if (unit == "g" || unit == "gb") mult = 1e9;
  else if (unit == "gib") mult = 1024.0 * 1024 * 1024;
  else if (unit == "t" || unit == "tb") mult = 1e12;
  else if (unit == "tib") mult = 1024.0 * 1024 * 1024 * 1024;
  else return InvalidArgument(StrCat("unknown size unit '", unit, "' in '", text, "'"));
  const double bytes = number * mult;
  if (!(bytes >= 0) || bytes > 1e18) return InvalidArgument(StrCat("size '", text, "' is out of range"));
  return static_cast<uint64_t>(std::llround(bytes));
}

}  // namespace pagellm
