// Element types of weights, activations and KV, including block-quantized formats.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace pagellm {

enum class DType : uint8_t {
  kF32,
  kF16,
  kBF16,
  kQ8_0,  // GGUF block: f16 scale + 32 x int8 (34 bytes / 32 values)
  kQ4_0,  // GGUF block: f16 scale + 16 bytes of 4-bit values (18 bytes / 32 values)
  kI32,
  // Q4_0 repacked for the AVX512-VNNI kernels (never in a file): per group of 16 rows and per
  // 32-block, the 16 rows' f16 scales then their 16 x 16 nibble bytes interleaved 4 bytes at a
  // time (quantize.h, RepackQ4_0x16). Same bytes per row as Q4_0; rows come in whole groups.
  kQ4_0x16,
  // Q8_0 repacked the same way (quantize.h, RepackQ8_0x16): per 16-row group and 32-block, the
  // scales, then the int8 values + 128 interleaved 4 at a time.
  kQ8_0x16,
  // GGUF K-quant super-blocks of 256 values (ggml's block_q4_K / block_q6_K, quantize.h).
  kQ4_K,  // f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of 4-bit values (144 bytes)
  kQ6_K,  // 128 bytes low 4 bits, 64 bytes high 2 bits, 16 int8 scales, f16 d (210 bytes)
  // GGUF 32-value blocks with a min and/or a 5th bit (ggml's block_q4_1 / q5_0 / q5_1, quantize.h).
  kQ4_1,  // f16 d, f16 m, 16 bytes of 4-bit values (20 bytes); value = d * q + m
  kQ5_0,  // f16 d, 4 bytes of 5th bits, 16 bytes of low 4 bits (22 bytes); value = d * (q - 16)
  kQ5_1,  // f16 d, f16 m, 4 bytes of 5th bits, 16 bytes of low 4 bits (24 bytes); d * q + m
  // Q4_K repacked for the AVX512-VNNI kernels (never in a file): per group of 16 rows and per
  // super-block, the rows' scales then their nibbles interleaved 4 bytes at a time (quantize.h,
  // RepackQ4_Kx16). Same bytes per row as Q4_K; rows come in whole groups.
  kQ4_Kx16,
  kQ6_Kx16,  // Q6_K repacked the same way (quantize.h, RepackQ6_Kx16)
  // GGUF K-quant (ggml's block_q5_K): Q4_K with a 5th bit per value (quantize.h).
  kQ5_K,  // f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 32 bytes of 5th bits, 128 of 4-bit (176 bytes)
  kQ5_Kx16,  // Q5_K repacked like Q4_Kx16 (quantize.h, RepackQ5_Kx16)
  // GGUF K-quant (ggml's block_q3_K, quantize.h): 3-bit values, 6-bit scales per 16 values.
  kQ3_K,  // 32 bytes of high bits, 64 bytes of low 2 bits, 12 bytes of scales, f16 d (110 bytes)
  kQ2_K,  // 16 bytes of 4-bit scale / min pairs, 64 bytes of 2-bit values, f16 d, f16 dmin (84 bytes)
  // GGUF block (ggml's block_iq4_nl): f16 d + 16 bytes of 4-bit indices into a fixed table of 16
  // int8 values (18 bytes / 32 values); value = d * table[index] (quantize.h).
  kIQ4_NL,
  // Q5_0 / IQ4_NL repacked for the AVX512-VNNI kernels like Q4_0x16 (quantize.h, RepackQ5_0x16 /
  // RepackIQ4_NLx16): same bytes per row, rows in whole 16-row groups.
  kQ5_0x16,
  kIQ4_NLx16,
};

struct DTypeInfo {
  std::string_view name;
  int block_elems;   // values per block (1 for plain types)
  int block_bytes;   // bytes per block
};

constexpr DTypeInfo Info(DType t) {
  switch (t) {
    case DType::kF32: return {"F32", 1, 4};
    case DType::kF16: return {"F16", 1, 2};
    case DType::kBF16: return {"BF16", 1, 2};
    case DType::kQ8_0: return {"Q8_0", 32, 34};
    case DType::kQ4_0: return {"Q4_0", 32, 18};
    case DType::kI32: return {"I32", 1, 4};
    case DType::kQ4_0x16: return {"Q4_0x16", 32, 18};
    case DType::kQ8_0x16: return {"Q8_0x16", 32, 34};
    case DType::kQ4_K: return {"Q4_K", 256, 144};
    case DType::kQ6_K: return {"Q6_K", 256, 210};
    case DType::kQ4_1: return {"Q4_1", 32, 20};
    case DType::kQ5_0: return {"Q5_0", 32, 22};
    case DType::kQ5_1: return {"Q5_1", 32, 24};
    case DType::kQ4_Kx16: return {"Q4_Kx16", 256, 144};
    case DType::kQ6_Kx16: return {"Q6_Kx16", 256, 210};
    case DType::kQ5_K: return {"Q5_K", 256, 176};
    case DType::kQ5_Kx16: return {"Q5_Kx16", 256, 176};
    case DType::kQ3_K: return {"Q3_K", 256, 110};
    case DType::kQ2_K: return {"Q2_K", 256, 84};
    case DType::kIQ4_NL: return {"IQ4_NL", 32, 18};
    case DType::kQ5_0x16: return {"Q5_0x16", 32, 22};
    case DType::kIQ4_NLx16: return {"IQ4_NLx16", 32, 18};
  }
  return {"?", 1, 1};
}

inline std::string_view DTypeName(DType t) { return Info(t).name; }

// The in-memory repacks with 16 rows in vector lanes (quantize.h): matrices of these types come
// in whole 16-row groups.
constexpr bool IsX16(DType t) {
  return t == DType::kQ4_0x16 || t == DType::kQ8_0x16 || t == DType::kQ4_Kx16 || t == DType::kQ6_Kx16 ||
         t == DType::kQ5_Kx16 || t == DType::kQ5_0x16 || t == DType::kIQ4_NLx16;
}

// The GGUF block-quantized formats as they appear in files (quantize.h), not the in-memory
// x16 repacks (IsX16).
constexpr bool IsGgufBlockDType(DType t) {
  return t == DType::kQ8_0 || t == DType::kQ4_0 || t == DType::kQ4_1 || t == DType::kQ5_0 || t == DType::kQ5_1 ||
         t == DType::kIQ4_NL || t == DType::kQ2_K || t == DType::kQ3_K || t == DType::kQ4_K || t == DType::kQ5_K || t == DType::kQ6_K;
}

// Bytes taken by `n` consecutive values; nullopt if `n` is not a whole number of blocks
// or the size overflows.
inline std::optional<uint64_t> BytesFor(DType t, uint64_t n) {
  const DTypeInfo info = Info(t);
  if (n % static_cast<uint64_t>(info.block_elems) != 0) return std::nullopt;
  const uint64_t blocks = n / static_cast<uint64_t>(info.block_elems);
  if (blocks > UINT64_MAX / static_cast<uint64_t>(info.block_bytes)) return std::nullopt;
  return blocks * static_cast<uint64_t>(info.block_bytes);
}

}  // namespace pagellm
