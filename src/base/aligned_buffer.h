// AlignedBuffer<T>: an owned, 64-byte aligned, fixed-size array (activations, KV storage).
// Large buffers come straight from mmap: zero pages the kernel provides lazily, so a big KV cache
// costs nothing until it is used.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <utility>

namespace pagellm {

template <typename T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t n) { Resize(n); }
  ~AlignedBuffer() { Release(); }
  AlignedBuffer(AlignedBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        mapped_bytes_(std::exchange(o.mapped_bytes_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(mapped_bytes_, o.mapped_bytes_);
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  // Discards the contents; new memory is zero-filled.
  void Resize(size_t n) {
    Release();
    size_ = n;
    if (n == 0) return;
    const size_t bytes = (n * sizeof(T) + 63) / 64 * 64;
    if (bytes >= kMmapThreshold) {
      void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      data_ = static_cast<T*>(p);
      mapped_bytes_ = bytes;
      return;
    }
    data_ = static_cast<T*>(std::aligned_alloc(64, bytes));
    if (data_ == nullptr) throw std::bad_alloc();
    std::memset(static_cast<void*>(data_), 0, bytes);
  }
  // Asks the kernel to back this buffer with transparent huge pages (2 MiB: far fewer TLB misses
  // when a big buffer is streamed, as weights are in every decode step). A hint: no effect on
  // small (heap) buffers or where THP is off.
  void AdviseHugePages() {
    if (mapped_bytes_ > 0) ::madvise(data_, mapped_bytes_, MADV_HUGEPAGE);
  }
  // Grows (never shrinks) to at least `n` elements.
  void EnsureSize(size_t n) {
    if (n > size_) Resize(n);
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  std::span<T> span() { return {data_, size_}; }
  std::span<const T> span() const { return {data_, size_}; }

 private:
  static constexpr size_t kMmapThreshold = size_t{1} << 20;
  void Release() {
    if (data_ == nullptr) return;
    if (mapped_bytes_ > 0) {
      ::munmap(data_, mapped_bytes_);
    } else {
      std::free(data_);
    }
    data_ = nullptr;
    mapped_bytes_ = 0;
  }

  T* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_bytes_ = 0;  // > 0: the memory is an anonymous mapping of this size
};

}  // namespace pagellm
