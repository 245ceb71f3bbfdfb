// Block quantization (GGUF Q8_0 / Q4_0) and activation quantization; see quantize.h.
#include "src/kernels/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "src/base/check.h"
#include "src/base/half.h"

namespace pagellm {
namespace {

constexpr int kQ8Bytes = 34;
constexpr int kQ4Bytes = 18;

void StoreHalf(uint8_t* p, float v) {
  const uint16_t h = F32ToF16(v);
  std::memcpy(p, &h, 2);
}

float LoadHalf(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return F16ToF32(h);
}

// round(v) to the nearest integer (ties to even) clamped to [lo, hi]; v finite.
int RoundClamp(float v, int lo, int hi) {
  const float r = std::nearbyint(v);
  return static_cast<int>(std::clamp(r, static_cast<float>(lo), static_cast<float>(hi)));
}

void QuantizeBlockQ8(const float* x, uint8_t* out) {
  float amax = 0.0f;
  bool finite = true;
  for (int i = 0; i < kQuantBlock; ++i) {
    finite = finite && std::isfinite(x[i]);
    amax = std::max(amax, std::fabs(x[i]));
  }
  auto* q = reinterpret_cast<int8_t*>(out + 2);
  if (!finite) {
    StoreHalf(out, std::numeric_limits<float>::quiet_NaN());
    std::memset(q, 0, kQuantBlock);
    return;
  }
  // Round with the stored (f16) scale so that d * q is the closest value the block can hold.
  const float d = F16ToF32(F32ToF16(amax / 127.0f));
  StoreHalf(out, d);
  for (int i = 0; i < kQuantBlock; ++i) q[i] = static_cast<int8_t>(d == 0.0f ? 0 : RoundClamp(x[i] / d, -127, 127));
}

void QuantizeBlockQ4(const float* x, uint8_t* out) {
  float vmax = 0.0f;  // the value of largest magnitude, with its sign
  bool finite = true;
  for (int i = 0; i < kQuantBlock; ++i) {
    finite = finite && std::isfinite(x[i]);
    if (std::fabs(x[i]) > std::fabs(vmax)) vmax = x[i];
  }
  uint8_t* qs = out + 2;
  if (!finite) {
    StoreHalf(out, std::numeric_limits<float>::quiet_NaN());
    std::memset(qs, 0x88, kQuantBlock / 2);
    return;
  }
  const float d = F16ToF32(F32ToF16(vmax / -8.0f));
  StoreHalf(out, d);
  for (int i = 0; i < kQuantBlock / 2; ++i) {
    const int lo = d == 0.0f ? 8 : RoundClamp(x[i] / d + 8.0f, 0, 15);
    const int hi = d == 0.0f ? 8 : RoundClamp(x[i + 16] / d + 8.0f, 0, 15);
    qs[i] = static_cast<uint8_t>(lo | hi << 4);
  }
}

}  // namespace

void QuantizeRow(DType dtype, const float* x, int64_t k, uint8_t* out) {
  // Precondition: a block dtype and whole blocks (callers check shapes first).
  CHECK(k % kQuantBlock == 0 && (dtype == DType::kQ8_0 || dtype == DType::kQ4_0));
  for (int64_t b = 0; b < k / kQuantBlock; ++b) {
    if (dtype == DType::kQ8_0) {
      QuantizeBlockQ8(x + b * kQuantBlock, out + b * kQ8Bytes);
    } else {
      QuantizeBlockQ4(x + b * kQuantBlock, out + b * kQ4Bytes);
    }
  }
}

namespace {
// The x16 layouts (quantize.h) of a block type of `block_bytes` (2-byte scale + payload): per
// (group, block) record, the 16 scales, then for each 4-byte payload run i, the 16 rows' run i.
// `to_packed` moves bytes from the row-major matrix into the records, else back; payload bytes
// are xor'ed with `payload_xor` on the way (Q8_0: 0x80, int8 <-> int8 + 128).
void ConvertX16(const uint8_t* from, int64_t n, int64_t k, int64_t block_bytes, uint8_t payload_xor,
                bool to_packed, uint8_t* to) {
  CHECK(n % kQ4x16Rows == 0 && k % kQuantBlock == 0);
  const int64_t blocks = k / kQuantBlock;
  const int64_t record = kQ4x16Rows * block_bytes;
  const int64_t runs = (block_bytes - 2) / 4;
  for (int64_t g = 0; g < n / kQ4x16Rows; ++g) {
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t rec = (g * blocks + b) * record;
      for (int64_t j = 0; j < kQ4x16Rows; ++j) {
        const int64_t blk = ((g * kQ4x16Rows + j) * blocks + b) * block_bytes;
        auto move = [&](int64_t packed_off, int64_t plain_off, int64_t bytes, uint8_t x) {
          const int64_t src = to_packed ? blk + plain_off : rec + packed_off;
          const int64_t dst = to_packed ? rec + packed_off : blk + plain_off;
          for (int64_t t = 0; t < bytes; ++t) to[dst + t] = static_cast<uint8_t>(from[src + t] ^ x);
        };
        move(2 * j, 0, 2, 0);  // scale
        for (int64_t i = 0; i < runs; ++i) move(2 * kQ4x16Rows + 64 * i + 4 * j, 2 + 4 * i, 4, payload_xor);
      }
    }
  }
}
}  // namespace

void RepackQ4_0x16(const uint8_t* q4, int64_t n, int64_t k, uint8_t* out) {
  ConvertX16(q4, n, k, kQ4Bytes, 0, /*to_packed=*/true, out);
}
void UnpackQ4_0x16(const uint8_t* packed, int64_t n, int64_t k, uint8_t* q4) {
  ConvertX16(packed, n, k, kQ4Bytes, 0, /*to_packed=*/false, q4);
}
void RepackQ8_0x16(const uint8_t* q8, int64_t n, int64_t k, uint8_t* out) {
  ConvertX16(q8, n, k, kQ8Bytes, 0x80, /*to_packed=*/true, out);
}
void UnpackQ8_0x16(const uint8_t* packed, int64_t n, int64_t k, uint8_t* q8) {
  ConvertX16(packed, n, k, kQ8Bytes, 0x80, /*to_packed=*/false, q8);
}

void DequantizeRow(DType dtype, const uint8_t* in, int64_t k, float* out) {
  switch (dtype) {
    case DType::kF32:
      std::memcpy(out, in, static_cast<size_t>(k) * 4);
      return;
    case DType::kF16:
    case DType::kBF16:
      for (int64_t i = 0; i < k; ++i) {
        uint16_t h;
        std::memcpy(&h, in + 2 * i, 2);
        out[i] = dtype == DType::kF16 ? F16ToF32(h) : Bf16ToF32(h);
      }
      return;
    case DType::kQ8_0:
      CHECK(k % kQuantBlock == 0);
      for (int64_t b = 0; b < k / kQuantBlock; ++b) {
        const uint8_t* blk = in + b * kQ8Bytes;
        const float d = LoadHalf(blk);
        for (int i = 0; i < kQuantBlock; ++i) out[b * kQuantBlock + i] = d * static_cast<float>(static_cast<int8_t>(blk[2 + i]));
      }
      return;
    case DType::kQ4_0:
      CHECK(k % kQuantBlock == 0);
      for (int64_t b = 0; b < k / kQuantBlock; ++b) {
        const uint8_t* blk = in + b * kQ4Bytes;
        const float d = LoadHalf(blk);
        for (int i = 0; i < kQuantBlock / 2; ++i) {
          out[b * kQuantBlock + i] = d * static_cast<float>((blk[2 + i] & 15) - 8);
          out[b * kQuantBlock + i + 16] = d * static_cast<float>((blk[2 + i] >> 4) - 8);
        }
      }
      return;
    default:
      CHECK_MSG(false, "DequantizeRow: not a floating-point or block dtype");
  }
}

void QuantizeActivationRow(const float* x, int64_t k, int8_t* q, float* d) {
  for (int64_t b = 0; b < k / kQuantBlock; ++b) {
    const float* xb = x + b * kQuantBlock;
    int8_t* qb = q + b * kQuantBlock;
    float amax = 0.0f;
    bool finite = true;
    for (int i = 0; i < kQuantBlock; ++i) {
      finite = finite && std::isfinite(xb[i]);
      amax = std::max(amax, std::fabs(xb[i]));
    }
    const float scale = amax / 127.0f;
    if (!finite || scale == 0.0f) {
      d[b] = finite ? 0.0f : std::numeric_limits<float>::quiet_NaN();
      std::memset(qb, 0, kQuantBlock);
      continue;
    }
    d[b] = scale;
    for (int i = 0; i < kQuantBlock; ++i) qb[i] = static_cast<int8_t>(RoundClamp(xb[i] / scale, -127, 127));
  }
}

}  // namespace pagellm
