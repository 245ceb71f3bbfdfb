// Stop-string search limited to the window that new text can affect.
#include "src/sample/stop_strings.h"

#include <algorithm>

namespace pagellm {

std::optional<StopMatch> FindStopString(std::string_view text, size_t new_from,
                                        std::span<const std::string> stops) {
  std::optional<StopMatch> best;
  for (size_t i = 0; i < stops.size(); ++i) {
    const std::string& s = stops[i];
    if (s.empty() || s.size() > text.size()) continue;
    // A match ending at or after new_from starts at or after new_from - (len - 1).
    const size_t from = new_from + 1 >= s.size() ? new_from + 1 - s.size() : 0;
    const size_t pos = text.find(s, from);
    if (pos == std::string_view::npos) continue;
    if (!best || pos < best->pos) best = StopMatch{pos, i};
  }
  return best;
}

size_t StopHoldBack(std::span<const std::string> stops, bool include_stop_str_in_output) {
  if (include_stop_str_in_output) return 0;
  size_t longest = 0;
  for (const auto& s : stops) longest = std::max(longest, s.size());
  return longest == 0 ? 0 : longest - 1;
}

size_t Utf8SafePrefix(std::string_view text, size_t n) {
  n = std::min(n, text.size());
  if (n == text.size()) return n;
  // Step back over continuation bytes: a cut at n is safe iff text[n] starts a character.
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return n;
}

}  // namespace pagellm
