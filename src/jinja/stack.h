// Stack-depth guard: how close the current thread is to the end of its stack, so recursive
// parsing and evaluation fail with an error before they could overflow it.
#pragma once

#include <cstddef>

namespace pagellm::jinja {

// Stack kept free below the deepest checked frame, for the frames between two checks.
// GCC defines __SANITIZE_ADDRESS__ under -fsanitize=address; Clang 14 does not and only answers
// __has_feature(address_sanitizer).
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PAGELLM_JINJA_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(PAGELLM_JINJA_ASAN)
inline constexpr size_t kStackReserve = size_t{1} << 20;  // sanitizer frames are much larger
#else
inline constexpr size_t kStackReserve = size_t{256} << 10;
#endif

// The lowest frame address the current thread may reach (its stack's low end plus
// kStackReserve, or half the stack if it is smaller than twice that), or null if unknown.
// Stacks grow down on the supported platforms.
const char* StackFloor();

// True if the calling frame is below `floor` (never when floor is null).
inline bool StackExhausted(const char* floor) {
  return floor != nullptr && static_cast<const char*>(__builtin_frame_address(0)) < floor;
}

}  // namespace pagellm::jinja
