// CHECK / DCHECK: invariants whose failure is a bug in pagellm, never a reaction to user input.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace pagellm::internal {
[[noreturn]] inline void CheckFailed(const char* file, int line, const char* expr, const char* msg) {
  std::fprintf(stderr, "%s:%d: CHECK failed: %s %s\n", file, line, expr, msg ? msg : "");
  std::fflush(stderr);
  std::abort();
}
}  // namespace pagellm::internal

#define CHECK(cond) \
  ((cond) ? (void)0 : ::pagellm::internal::CheckFailed(__FILE__, __LINE__, #cond, nullptr))
#define CHECK_MSG(cond, msg) \
  ((cond) ? (void)0 : ::pagellm::internal::CheckFailed(__FILE__, __LINE__, #cond, (msg)))

#ifdef NDEBUG
#define DCHECK(cond) ((void)sizeof(cond))
#else
#define DCHECK(cond) CHECK(cond)
#endif
