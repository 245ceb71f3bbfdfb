// Regex: Oniguruma compile (serialized, one-time library init) and match iteration.
#include "src/tokenizer/regex.h"

#include <mutex>

#include "oniguruma.h"
#include "src/tokenizer/utf8.h"

namespace pagellm::tokenizer {
namespace {

std::mutex& CompileMutex() {
  static std::mutex* const kMutex = new std::mutex();
  return *kMutex;
}

std::string OnigMessage(int code, OnigErrorInfo* info) {
  OnigUChar buf[ONIG_MAX_ERROR_MESSAGE_LEN];
  const int n = onig_error_code_to_str(buf, code, info);
  return std::string(reinterpret_cast<const char*>(buf), n > 0 ? static_cast<size_t>(n) : 0);
}

}  // namespace

StatusOr<std::unique_ptr<Regex>> Regex::Compile(std::string_view pattern) {
  if (!IsValidUtf8(pattern)) {
    return InvalidArgument("regex pattern is not valid UTF-8");
  }
  std::lock_guard<std::mutex> lock(CompileMutex());
  static const bool kInitialized = [] {
    OnigEncoding encodings[1] = {ONIG_ENCODING_UTF8};
    onig_initialize(encodings, 1);
    return true;
  }();
  (void)kInitialized;
  OnigRegex re = nullptr;
  OnigErrorInfo info;
  const auto* p = reinterpret_cast<const OnigUChar*>(pattern.data());
  const int r = onig_new(&re, p, p + pattern.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                         ONIG_SYNTAX_DEFAULT, &info);
  if (r != ONIG_NORMAL) {
    const std::string msg = OnigMessage(r, &info);
    if (re != nullptr) onig_free(re);
    return InvalidArgument(StrCat("regex '", pattern, "' does not compile: ", msg));
  }
  return std::unique_ptr<Regex>(new Regex(std::string(pattern), re));
}

Regex::~Regex() {
  std::lock_guard<std::mutex> lock(CompileMutex());
  onig_free(static_cast<OnigRegex>(re_));
}

Status Regex::FindAll(std::string_view text,
                      std::vector<std::pair<size_t, size_t>>* matches) const {
  OnigRegion* region = onig_region_new();
  const auto* str = reinterpret_cast<const OnigUChar*>(text.data());
  const OnigUChar* end = str + text.size();
  size_t pos = 0;
  Status status;
  while (pos <= text.size()) {
    const int r = onig_search(static_cast<OnigRegex>(re_), str, end, str + pos, end, region,
                              ONIG_OPTION_NONE);
    if (r == ONIG_MISMATCH) break;
    if (r < 0) {
      status = Internal(StrCat("regex '", pattern_, "' failed: ", OnigMessage(r, nullptr)));
      break;
    }
    const size_t b = static_cast<size_t>(region->beg[0]);
    const size_t e = static_cast<size_t>(region->end[0]);
    if (e > b) {
      matches->emplace_back(b, e);
      pos = e;
    } else {
      // Empty match: step over one character.
      if (b >= text.size()) break;
      pos = b + Utf8SeqLen(static_cast<uint8_t>(text[b]));
    }
  }
  onig_region_free(region, 1);
  return status;
}

}  // namespace pagellm::tokenizer
