// Stop strings: matching on detokenized text, across token boundaries, and how much text a stream
// must hold back because it might still become the start of a stop string.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pagellm {

struct StopMatch {
  size_t pos = 0;        // byte offset of the match in the text
  size_t stop_index = 0; // which stop string matched
};

// The earliest stop string occurrence in `text` that ends at or after `new_from` (only text from
// `new_from` on is new, so matches wholly inside older text were already looked at).
std::optional<StopMatch> FindStopString(std::string_view text, size_t new_from,
                                        std::span<const std::string> stops);

// Bytes at the end of streamed text to hold back: the longest stop string minus one (0 when the
// stop string is kept in the output anyway or there are none).
size_t StopHoldBack(std::span<const std::string> stops, bool include_stop_str_in_output);

// The largest prefix length <= `n` of `text` that does not end inside a UTF-8 character.
size_t Utf8SafePrefix(std::string_view text, size_t n);

}  // namespace pagellm
