// Block quantization (GGUF Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 / IQ4_NL / Q2_K .. Q6_K) and activation quantization; see quantize.h.
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

// The IQ4_NL level nearest to v (v finite; ties to the lower level).
int NearestIQ4NL(float v) {
  int best = 0;
  for (int i = 1; i < 16; ++i) {
    const float gap = std::fabs(v - static_cast<float>(kIQ4NLValues[i]));
    if (gap < std::fabs(v - static_cast<float>(kIQ4NLValues[best]))) best = i;
  }
  return best;
}

// Q4_0 and IQ4_NL: 16 levels, the lowest `lowest` (-8 resp. -127); the value of largest magnitude v
// maps to it (d = v / lowest, stored as f16) and each value x to nibble(x / d).
template <class Nibble>
void QuantizeBlockNibbles(const float* x, float lowest, Nibble nibble, uint8_t* out) {
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
  const float d = F16ToF32(F32ToF16(vmax / lowest));
  StoreHalf(out, d);
  for (int i = 0; i < kQuantBlock / 2; ++i) {
    const int lo = d == 0.0f ? 8 : nibble(x[i] / d);
    const int hi = d == 0.0f ? 8 : nibble(x[i + 16] / d);
    qs[i] = static_cast<uint8_t>(lo | hi << 4);
  }
}

void QuantizeBlockQ4(const float* x, uint8_t* out) {
  QuantizeBlockNibbles(x, -8.0f, [](float v) { return RoundClamp(v + 8.0f, 0, 15); }, out);
}

void QuantizeBlockIQ4NL(const float* x, uint8_t* out) { QuantizeBlockNibbles(x, -127.0f, &NearestIQ4NL, out); }

// Q5_0 (with_min false; 32 levels around 0, like Q4_0) or Q4_1 / Q5_1 (with_min; `levels` steps
// from the block's minimum). Layout: f16 d, [f16 m], [uint32 qh when levels == 32], qs[16].
void QuantizeBlockMinOr5(const float* x, int levels, bool with_min, uint8_t* out) {
  const int qh_bytes = levels == 32 ? 4 : 0;
  const int head = with_min ? 4 : 2;
  uint8_t* qs = out + head + qh_bytes;
  float lo = x[0], hi = x[0], vmax = 0.0f;
  bool finite = true;
  for (int i = 0; i < kQuantBlock; ++i) {
    finite = finite && std::isfinite(x[i]);
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
    if (std::fabs(x[i]) > std::fabs(vmax)) vmax = x[i];
  }
  std::memset(out, 0, static_cast<size_t>(head + qh_bytes + kQuantBlock / 2));
  if (!finite) {
    StoreHalf(out, std::numeric_limits<float>::quiet_NaN());
    return;
  }
  float d, m = 0.0f;
  int offset = 0;  // added to the rounded value (Q5_0: 16)
  if (with_min) {
    d = F16ToF32(F32ToF16((hi - lo) / static_cast<float>(levels - 1)));
    m = F16ToF32(F32ToF16(lo));
    StoreHalf(out + 2, m);
  } else {
    d = F16ToF32(F32ToF16(vmax / static_cast<float>(-levels / 2)));
    offset = levels / 2;
  }
  StoreHalf(out, d);
  uint32_t qh = 0;
  for (int i = 0; i < kQuantBlock; ++i) {
    const float v = with_min ? x[i] - m : x[i];
    const int q = d == 0.0f ? offset : RoundClamp(v / d + static_cast<float>(offset), 0, levels - 1);
    qs[i % 16] |= static_cast<uint8_t>(i < 16 ? q & 15 : (q & 15) << 4);
    qh |= static_cast<uint32_t>(q >> 4) << i;
  }
  if (qh_bytes != 0) std::memcpy(out + head, &qh, 4);
}

// ggml's dequantize_row_q4_1 / q5_0 / q5_1 for one block (layouts in quantize.h).
void DequantizeBlockMinOr5(DType dtype, const uint8_t* blk, float* y) {
  const bool with_min = dtype != DType::kQ5_0;
  const bool five = dtype != DType::kQ4_1;
  const float d = LoadHalf(blk);
  const float m = with_min ? LoadHalf(blk + 2) : 0.0f;
  const int head = with_min ? 4 : 2;
  uint32_t qh = 0;
  if (five) std::memcpy(&qh, blk + head, 4);
  const uint8_t* qs = blk + head + (five ? 4 : 0);
  for (int i = 0; i < kQuantBlock; ++i) {
    const int nibble = i < 16 ? qs[i] & 15 : qs[i - 16] >> 4;
    const int q = nibble | static_cast<int>((qh >> i) & 1) << 4;
    y[i] = with_min ? d * static_cast<float>(q) + m : d * static_cast<float>(q - 16);
  }
}

constexpr int kQ4KBytes = 144;
constexpr int kQ5KBytes = 176;
constexpr int kQ6KBytes = 210;
constexpr int kQ3KBytes = 110;
constexpr int kQ2KBytes = 84;

bool AllFinite(const float* x, int n) {
  bool finite = true;
  for (int i = 0; i < n; ++i) finite = finite && std::isfinite(x[i]);
  return finite;
}

// Q4_K (five false) or Q5_K (five: 31 steps, the 5th bits in qh).
void QuantizeBlockQ4KOr5K(const float* x, bool five, uint8_t* out) {
  const float levels = five ? 31.0f : 15.0f;
  std::memset(out, 0, five ? kQ5KBytes : kQ4KBytes);
  if (!AllFinite(x, kSuperBlock)) {
    StoreHalf(out, std::numeric_limits<float>::quiet_NaN());
    return;
  }
  // Per sub-block: step s (`levels` steps cover [lo, hi]) and offset mn = -lo >= 0.
  float step[8], offset[8], max_step = 0.0f, max_offset = 0.0f;
  for (int j = 0; j < 8; ++j) {
    float lo = 0.0f, hi = 0.0f;
    for (int t = 0; t < 32; ++t) {
      lo = std::min(lo, x[32 * j + t]);
      hi = std::max(hi, x[32 * j + t]);
    }
    step[j] = (hi - lo) / levels;
    offset[j] = -lo;
    max_step = std::max(max_step, step[j]);
    max_offset = std::max(max_offset, offset[j]);
  }
  const float d = F16ToF32(F32ToF16(max_step / 63.0f));
  const float dmin = F16ToF32(F32ToF16(max_offset / 63.0f));
  StoreHalf(out, d);
  StoreHalf(out + 2, dmin);
  uint8_t sc[8], m[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = static_cast<uint8_t>(d == 0.0f ? 0 : RoundClamp(step[j] / d, 0, 63));
    m[j] = static_cast<uint8_t>(dmin == 0.0f ? 0 : RoundClamp(offset[j] / dmin, 0, 63));
  }
  uint8_t* scales = out + 4;
  for (int j = 0; j < 4; ++j) {
    scales[j] = static_cast<uint8_t>(sc[j] | (sc[j + 4] >> 4) << 6);
    scales[j + 4] = static_cast<uint8_t>(m[j] | (m[j + 4] >> 4) << 6);
    scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
  }
  uint8_t* qh = out + 16;
  uint8_t* qs = out + (five ? 48 : 16);
  for (int j = 0; j < 8; ++j) {
    const float dj = d * static_cast<float>(sc[j]);
    const float mj = dmin * static_cast<float>(m[j]);
    for (int t = 0; t < 32; ++t) {
      const int q = dj == 0.0f ? 0 : RoundClamp((x[32 * j + t] + mj) / dj, 0, five ? 31 : 15);
      qs[32 * (j / 2) + t] |= static_cast<uint8_t>(j % 2 == 0 ? q & 15 : (q & 15) << 4);
      if (five) qh[t] |= static_cast<uint8_t>((q >> 4) << j);
    }
  }
}

// Q6_K / Q3_K: per 16 values the one of largest magnitude, with its sign, maps to the lowest level
// `lowest`: s[i] = that value / lowest. Returns max |s[i]|.
float SignedSubScales(const float* x, float lowest, float s[16]) {
  float max_abs = 0.0f;
  for (int i = 0; i < 16; ++i) {
    float vmax = 0.0f;
    for (int t = 0; t < 16; ++t) {
      if (std::fabs(x[16 * i + t]) > std::fabs(vmax)) vmax = x[16 * i + t];
    }
    s[i] = vmax / lowest;
    max_abs = std::max(max_abs, std::fabs(s[i]));
  }
  return max_abs;
}

void QuantizeBlockQ6K(const float* x, uint8_t* out) {
  std::memset(out, 0, kQ6KBytes);
  uint8_t* ql = out;
  uint8_t* qh = out + 128;
  auto* scales = reinterpret_cast<int8_t*>(out + 192);
  if (!AllFinite(x, kSuperBlock)) {
    StoreHalf(out + 208, std::numeric_limits<float>::quiet_NaN());
    return;
  }
  float s[16];
  const float max_abs = SignedSubScales(x, -32.0f, s);
  const float d = F16ToF32(F32ToF16(max_abs / 127.0f));
  StoreHalf(out + 208, d);
  for (int i = 0; i < 16; ++i) scales[i] = static_cast<int8_t>(d == 0.0f ? 0 : RoundClamp(s[i] / d, -127, 127));
  for (int v = 0; v < kSuperBlock; ++v) {
    const float dv = d * static_cast<float>(scales[v / 16]);
    const int q = (dv == 0.0f ? 0 : RoundClamp(x[v] / dv, -32, 31)) + 32;
    const int h = v / 128, g = (v % 128) / 32, t = v % 32;
    ql[64 * h + 32 * (g & 1) + t] |= static_cast<uint8_t>(g < 2 ? q & 15 : (q & 15) << 4);
    qh[32 * h + t] |= static_cast<uint8_t>((q >> 4) << (2 * g));
  }
}

// Q4_K (five false) or Q5_K.
void DequantizeBlockQ4KOr5K(const uint8_t* blk, bool five, float* y) {
  const float d = LoadHalf(blk);
  const float dmin = LoadHalf(blk + 2);
  uint8_t sc[8], m[8];
  UnpackQ4KScales(blk + 4, sc, m);
  const uint8_t* qh = blk + 16;
  const uint8_t* qs = blk + (five ? 48 : 16);
  auto fifth = [&](int j, int t) { return five ? ((qh[t] >> j) & 1) << 4 : 0; };
  for (int c = 0; c < 4; ++c) {
    const float d1 = d * static_cast<float>(sc[2 * c]), m1 = dmin * static_cast<float>(m[2 * c]);
    const float d2 = d * static_cast<float>(sc[2 * c + 1]), m2 = dmin * static_cast<float>(m[2 * c + 1]);
    for (int t = 0; t < 32; ++t) y[64 * c + t] = d1 * static_cast<float>((qs[32 * c + t] & 15) | fifth(2 * c, t)) - m1;
    for (int t = 0; t < 32; ++t) {
      y[64 * c + 32 + t] = d2 * static_cast<float>((qs[32 * c + t] >> 4) | fifth(2 * c + 1, t)) - m2;
    }
  }
}

void QuantizeBlockQ3K(const float* x, uint8_t* out) {
  std::memset(out, 0, kQ3KBytes);
  uint8_t* hmask = out;
  uint8_t* qs = out + 32;
  uint8_t* scales = out + 96;
  if (!AllFinite(x, kSuperBlock)) {
    StoreHalf(out + 108, std::numeric_limits<float>::quiet_NaN());
    return;
  }
  float s[16];
  const float max_abs = SignedSubScales(x, -4.0f, s);
  const float d = F16ToF32(F32ToF16(max_abs / 31.0f));
  StoreHalf(out + 108, d);
  int sc[16];
  for (int i = 0; i < 16; ++i) {
    sc[i] = d == 0.0f ? 0 : RoundClamp(s[i] / d, -32, 31);
    const int u = sc[i] + 32;  // 6 bits
    scales[i % 8] |= static_cast<uint8_t>((u & 15) << (4 * (i / 8)));
    scales[8 + i % 4] |= static_cast<uint8_t>((u >> 4) << (2 * (i / 4)));
  }
  for (int v = 0; v < kSuperBlock; ++v) {
    const float dv = d * static_cast<float>(sc[v / 16]);
    const int q = (dv == 0.0f ? 0 : RoundClamp(x[v] / dv, -4, 3)) + 4;
    const int h = v / 128, g = (v % 128) / 32, t = v % 32;
    qs[32 * h + t] |= static_cast<uint8_t>((q & 3) << (2 * g));
    hmask[t] |= static_cast<uint8_t>((q >> 2) << (4 * h + g));
  }
}

void QuantizeBlockQ2K(const float* x, uint8_t* out) {
  std::memset(out, 0, kQ2KBytes);
  uint8_t* scales = out;
  uint8_t* qs = out + 16;
  if (!AllFinite(x, kSuperBlock)) {
    StoreHalf(out + 80, std::numeric_limits<float>::quiet_NaN());
    return;
  }
  float step[16], offset[16], max_step = 0.0f, max_offset = 0.0f;
  for (int i = 0; i < 16; ++i) {
    float lo = 0.0f, hi = 0.0f;
    for (int t = 0; t < 16; ++t) {
      lo = std::min(lo, x[16 * i + t]);
      hi = std::max(hi, x[16 * i + t]);
    }
    step[i] = (hi - lo) / 3.0f;
    offset[i] = -lo;
    max_step = std::max(max_step, step[i]);
    max_offset = std::max(max_offset, offset[i]);
  }
  const float d = F16ToF32(F32ToF16(max_step / 15.0f));
  const float dmin = F16ToF32(F32ToF16(max_offset / 15.0f));
  StoreHalf(out + 80, d);
  StoreHalf(out + 82, dmin);
  for (int i = 0; i < 16; ++i) {
    const int sc = d == 0.0f ? 0 : RoundClamp(step[i] / d, 0, 15);
    const int m = dmin == 0.0f ? 0 : RoundClamp(offset[i] / dmin, 0, 15);
    scales[i] = static_cast<uint8_t>(sc | m << 4);
  }
  for (int v = 0; v < kSuperBlock; ++v) {
    const float dv = d * static_cast<float>(scales[v / 16] & 15);
    const float mv = dmin * static_cast<float>(scales[v / 16] >> 4);
    const int q = dv == 0.0f ? 0 : RoundClamp((x[v] + mv) / dv, 0, 3);
    const int h = v / 128, g = (v % 128) / 32, t = v % 32;
    qs[32 * h + t] |= static_cast<uint8_t>(q << (2 * g));
  }
}

void DequantizeBlockQ2K(const uint8_t* blk, float* y) {
  const uint8_t* qs = blk + 16;
  const float d = LoadHalf(blk + 80);
  const float dmin = LoadHalf(blk + 82);
  for (int v = 0; v < kSuperBlock; ++v) {
    const int h = v / 128, g = (v % 128) / 32, t = v % 32;
    const uint8_t sc = blk[v / 16];
    const float dl = d * static_cast<float>(sc & 15), ml = dmin * static_cast<float>(sc >> 4);
    y[v] = dl * static_cast<float>((qs[32 * h + t] >> (2 * g)) & 3) - ml;
  }
}

void DequantizeBlockQ3K(const uint8_t* blk, float* y) {
  const uint8_t* hmask = blk;
  const uint8_t* qs = blk + 32;
  uint8_t sc[16];
  UnpackQ3KScales(blk + 96, sc);
  const float d = LoadHalf(blk + 108);
  for (int v = 0; v < kSuperBlock; ++v) {
    const int h = v / 128, g = (v % 128) / 32, t = v % 32;
    const int q = ((qs[32 * h + t] >> (2 * g)) & 3) - ((hmask[t] >> (4 * h + g)) & 1 ? 0 : 4);
    y[v] = d * static_cast<float>(sc[v / 16] - 32) * static_cast<float>(q);
  }
}

void DequantizeBlockQ6K(const uint8_t* blk, float* y) {
  const uint8_t* ql = blk;
  const uint8_t* qh = blk + 128;
  const auto* scales = reinterpret_cast<const int8_t*>(blk + 192);
  const float d = LoadHalf(blk + 208);
  for (int v = 0; v < kSuperBlock; ++v) {
    const int h = v / 128, g = (v % 128) / 32, t = v % 32;
    const uint8_t l = ql[64 * h + 32 * (g & 1) + t];
    const int q = ((g < 2 ? l & 15 : l >> 4) | ((qh[32 * h + t] >> (2 * g)) & 3) << 4) - 32;
    y[v] = d * static_cast<float>(scales[v / 16]) * static_cast<float>(q);
  }
}

}  // namespace

void UnpackQ4KScales(const uint8_t* scales, uint8_t sc[8], uint8_t m[8]) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = scales[j] & 63;
    m[j] = scales[j + 4] & 63;
    sc[j + 4] = static_cast<uint8_t>((scales[j + 8] & 15) | (scales[j] >> 6) << 4);
    m[j + 4] = static_cast<uint8_t>((scales[j + 8] >> 4) | (scales[j + 4] >> 6) << 4);
  }
}

void QuantizeRow(DType dtype, const float* x, int64_t k, uint8_t* out) {
  if (IsGgufBlockDType(dtype) && Info(dtype).block_elems == kSuperBlock) {
    // Precondition: whole super-blocks (callers check shapes first).
    CHECK(k % kSuperBlock == 0);
    const int64_t block_bytes = Info(dtype).block_bytes;
    for (int64_t b = 0; b < k / kSuperBlock; ++b) {
      if (dtype == DType::kQ6_K) {
        QuantizeBlockQ6K(x + b * kSuperBlock, out + b * block_bytes);
      } else if (dtype == DType::kQ3_K) {
        QuantizeBlockQ3K(x + b * kSuperBlock, out + b * block_bytes);
      } else if (dtype == DType::kQ2_K) {
        QuantizeBlockQ2K(x + b * kSuperBlock, out + b * block_bytes);
      } else {
        QuantizeBlockQ4KOr5K(x + b * kSuperBlock, dtype == DType::kQ5_K, out + b * block_bytes);
      }
    }
    return;
  }
  // Precondition: a block dtype and whole blocks (callers check shapes first).
  CHECK(k % kQuantBlock == 0 && IsGgufBlockDType(dtype));
  const int64_t block_bytes = Info(dtype).block_bytes;
  for (int64_t b = 0; b < k / kQuantBlock; ++b) {
    const float* xb = x + b * kQuantBlock;
    uint8_t* ob = out + b * block_bytes;
    switch (dtype) {
      case DType::kQ8_0: QuantizeBlockQ8(xb, ob); break;
      case DType::kQ4_0: QuantizeBlockQ4(xb, ob); break;
      case DType::kQ4_1: QuantizeBlockMinOr5(xb, 16, /*with_min=*/true, ob); break;
      case DType::kQ5_0: QuantizeBlockMinOr5(xb, 32, /*with_min=*/false, ob); break;
      case DType::kQ5_1: QuantizeBlockMinOr5(xb, 32, /*with_min=*/true, ob); break;
      case DType::kIQ4_NL: QuantizeBlockIQ4NL(xb, ob); break;
      default: CHECK_MSG(false, "QuantizeRow: not a 32-value block dtype");
    }
  }
}

namespace {
// A block type as the x16 layouts (quantize.h) see it: `block_elems` values in `block_bytes`,
// `fields` 2-byte scales at byte `fields_at` (0: first; else last) and a payload of 4-byte runs
// (the other bytes, in order).
struct X16Format {
  int64_t block_elems, block_bytes, fields, fields_at;
  uint8_t payload_xor;                 // Q8_0: 0x80, int8 <-> int8 + 128
  const uint8_t* run_order = nullptr;  // packed run p holds the block's run run_order[p] (null: p)
};
constexpr X16Format kQ4_0Format{kQuantBlock, kQ4Bytes, 1, 0, 0};
constexpr X16Format kQ8_0Format{kQuantBlock, kQ8Bytes, 1, 0, 0x80};
constexpr X16Format kQ5_0Format{kQuantBlock, 22, 1, 0, 0};  // d, then runs: qh, qs[0..15]
constexpr X16Format kQ4_KFormat{kSuperBlock, kQ4KBytes, 2, 0, 0};  // d, dmin
constexpr X16Format kQ5_KFormat{kSuperBlock, kQ5KBytes, 2, 0, 0};  // d, dmin
// Q6_K (d last): per half h of the super-block, in the order the kernel reads them, its 2 scale
// runs, its 8 qh runs, its 16 ql runs (quantize.h).
constexpr uint8_t kQ6_KRunOrder[52] = {48, 49, 32, 33, 34, 35, 36, 37, 38, 39, 0,  1,  2,  3,  4,  5,  6,  7,
                                       8,  9,  10, 11, 12, 13, 14, 15, 50, 51, 40, 41, 42, 43, 44, 45, 46, 47,
                                       16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
constexpr X16Format kQ6_KFormat{kSuperBlock, kQ6KBytes, 1, 208, 0, kQ6_KRunOrder};

// Per (group, block) record: for each field f the 16 rows' field f, then for each payload run i the
// 16 rows' run i (or run_order[i]). `to_packed` moves bytes from the row-major matrix into the
// records, else back; payload bytes are xor'ed with payload_xor on the way.
void ConvertX16(const uint8_t* from, int64_t n, int64_t k, const X16Format& fmt, bool to_packed, uint8_t* to) {
  const int64_t block_bytes = fmt.block_bytes, fields = fmt.fields;
  CHECK(n % kQ4x16Rows == 0 && k % fmt.block_elems == 0 && (block_bytes - 2 * fields) % 4 == 0);
  const int64_t blocks = k / fmt.block_elems;
  const int64_t record = kQ4x16Rows * block_bytes;
  const int64_t runs = (block_bytes - 2 * fields) / 4;
  const int64_t plain_payload = fmt.fields_at == 0 ? 2 * fields : 0;
  const uint8_t payload_xor = fmt.payload_xor;
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
        for (int64_t f = 0; f < fields; ++f) move(2 * kQ4x16Rows * f + 2 * j, fmt.fields_at + 2 * f, 2, 0);
        const int64_t payload = 2 * kQ4x16Rows * fields;
        for (int64_t i = 0; i < runs; ++i) {
          const int64_t from_run = fmt.run_order != nullptr ? fmt.run_order[i] : i;
          move(payload + 64 * i + 4 * j, plain_payload + 4 * from_run, 4, payload_xor);
        }
      }
    }
  }
}
}  // namespace

void RepackQ4_0x16(const uint8_t* q4, int64_t n, int64_t k, uint8_t* out) {
  ConvertX16(q4, n, k, kQ4_0Format, /*to_packed=*/true, out);
}
void UnpackQ4_0x16(const uint8_t* packed, int64_t n, int64_t k, uint8_t* q4) {
  ConvertX16(packed, n, k, kQ4_0Format, /*to_packed=*/false, q4);
}
void RepackQ5_0x16(const uint8_t* q5, int64_t n, int64_t k, uint8_t* out) {
  ConvertX16(q5, n, k, kQ5_0Format, /*to_packed=*/true, out);
}
void UnpackQ5_0x16(const uint8_t* packed, int64_t n, int64_t k, uint8_t* q5) {
  ConvertX16(packed, n, k, kQ5_0Format, /*to_packed=*/false, q5);
}
void RepackIQ4_NLx16(const uint8_t* iq4, int64_t n, int64_t k, uint8_t* out) {
  ConvertX16(iq4, n, k, kQ4_0Format, /*to_packed=*/true, out);
}
void UnpackIQ4_NLx16(const uint8_t* packed, int64_t n, int64_t k, uint8_t* iq4) {
  ConvertX16(packed, n, k, kQ4_0Format, /*to_packed=*/false, iq4);
}
void RepackQ8_0x16(const uint8_t* q8, int64_t n, int64_t k, uint8_t* out) {
  ConvertX16(q8, n, k, kQ8_0Format, /*to_packed=*/true, out);
}
void UnpackQ8_0x16(const uint8_t* packed, int64_t n, int64_t k, uint8_t* q8) {
  ConvertX16(packed, n, k, kQ8_0Format, /*to_packed=*/false, q8);
}
void RepackQ4_Kx16(const uint8_t* q4k, int64_t n, int64_t k, uint8_t* out) {
  ConvertX16(q4k, n, k, kQ4_KFormat, /*to_packed=*/true, out);
}
void UnpackQ4_Kx16(const uint8_t* packed, int64_t n, int64_t k, uint8_t* q4k) {
  ConvertX16(packed, n, k, kQ4_KFormat, /*to_packed=*/false, q4k);
}
void RepackQ5_Kx16(const uint8_t* q5k, int64_t n, int64_t k, uint8_t* out) {
  ConvertX16(q5k, n, k, kQ5_KFormat, /*to_packed=*/true, out);
}
void UnpackQ5_Kx16(const uint8_t* packed, int64_t n, int64_t k, uint8_t* q5k) {
  ConvertX16(packed, n, k, kQ5_KFormat, /*to_packed=*/false, q5k);
}
void RepackQ6_Kx16(const uint8_t* q6k, int64_t n, int64_t k, uint8_t* out) {
  ConvertX16(q6k, n, k, kQ6_KFormat, /*to_packed=*/true, out);
}
void UnpackQ6_Kx16(const uint8_t* packed, int64_t n, int64_t k, uint8_t* q6k) {
  ConvertX16(packed, n, k, kQ6_KFormat, /*to_packed=*/false, q6k);
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
    case DType::kIQ4_NL:
      CHECK(k % kQuantBlock == 0);
      for (int64_t b = 0; b < k / kQuantBlock; ++b) {
        const uint8_t* blk = in + b * kQ4Bytes;
        const float d = LoadHalf(blk);
        for (int i = 0; i < kQuantBlock / 2; ++i) {
          out[b * kQuantBlock + i] = d * static_cast<float>(kIQ4NLValues[blk[2 + i] & 15]);
          out[b * kQuantBlock + i + 16] = d * static_cast<float>(kIQ4NLValues[blk[2 + i] >> 4]);
        }
      }
      return;
    case DType::kQ4_1:
    case DType::kQ5_0:
    case DType::kQ5_1: {
      CHECK(k % kQuantBlock == 0);
      const int64_t block_bytes = Info(dtype).block_bytes;
      for (int64_t b = 0; b < k / kQuantBlock; ++b) {
        DequantizeBlockMinOr5(dtype, in + b * block_bytes, out + b * kQuantBlock);
      }
      return;
    }
    case DType::kQ4_K:
    case DType::kQ5_K: {
      CHECK(k % kSuperBlock == 0);
      const int64_t block_bytes = Info(dtype).block_bytes;
      for (int64_t b = 0; b < k / kSuperBlock; ++b) {
        DequantizeBlockQ4KOr5K(in + b * block_bytes, dtype == DType::kQ5_K, out + b * kSuperBlock);
      }
      return;
    }
    case DType::kQ6_K:
      CHECK(k % kSuperBlock == 0);
      for (int64_t b = 0; b < k / kSuperBlock; ++b) DequantizeBlockQ6K(in + b * kQ6KBytes, out + b * kSuperBlock);
      return;
    case DType::kQ3_K:
      CHECK(k % kSuperBlock == 0);
      for (int64_t b = 0; b < k / kSuperBlock; ++b) DequantizeBlockQ3K(in + b * kQ3KBytes, out + b * kSuperBlock);
      return;
    case DType::kQ2_K:
      CHECK(k % kSuperBlock == 0);
      for (int64_t b = 0; b < k / kSuperBlock; ++b) DequantizeBlockQ2K(in + b * kQ2KBytes, out + b * kSuperBlock);
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
