// TensorView: a typed, shaped, non-owning view of row-major memory (outermost dim first).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "src/base/check.h"
#include "src/base/dtype.h"

namespace pagellm {

inline constexpr int kMaxDims = 4;

struct TensorView {
  DType dtype = DType::kF32;
  std::array<int64_t, kMaxDims> shape{};  // shape[0] is the outermost (slowest) dim
  int ndim = 0;
  const void* data = nullptr;

  bool empty() const { return data == nullptr; }
  int64_t dim(int i) const {
    DCHECK(i >= 0 && i < ndim);
    return shape[i];
  }
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= shape[i];
    return ndim == 0 ? 0 : n;
  }
  uint64_t nbytes() const { return BytesFor(dtype, static_cast<uint64_t>(numel())).value_or(0); }
  // Bytes of one row (the innermost dim).
  uint64_t row_bytes() const {
    return ndim == 0 ? 0 : BytesFor(dtype, static_cast<uint64_t>(shape[ndim - 1])).value_or(0);
  }
  // Precondition: ndim >= 1 and the view holds more than `r` rows.
  const uint8_t* row(int64_t r) const {
    return static_cast<const uint8_t*>(data) + static_cast<uint64_t>(r) * row_bytes();
  }
  template <typename T>
  const T* as() const { return static_cast<const T*>(data); }

  std::string ShapeString() const {
    std::string s = "[";
    for (int i = 0; i < ndim; ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
  }
};

inline TensorView MakeView(DType dtype, const void* data, std::initializer_list<int64_t> dims) {
  TensorView v;
  v.dtype = dtype;
  v.data = data;
  CHECK(dims.size() <= kMaxDims);
  for (int64_t d : dims) v.shape[v.ndim++] = d;
  return v;
}

}  // namespace pagellm
