// Stack-depth guard: the current thread's stack bounds from pthread_getattr_np.
#include "src/jinja/stack.h"

#include <pthread.h>

namespace pagellm::jinja {

const char* StackFloor() {
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return nullptr;
  void* addr = nullptr;
  size_t size = 0;
  const int rc = pthread_attr_getstack(&attr, &addr, &size);
  pthread_attr_destroy(&attr);
  if (rc != 0 || addr == nullptr || size == 0) return nullptr;
  // Small stacks (e.g. 256 KB worker threads) keep half of themselves in reserve.
  return static_cast<const char*>(addr) + (size < 2 * kStackReserve ? size / 2 : kStackReserve);
}

}  // namespace pagellm::jinja
