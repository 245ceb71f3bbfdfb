// The pre-tokenizer and normalizer of each GGUF "gpt2" vocabulary, keyed by tokenizer.ggml.pre.
//
// GGUF files name their pre-tokenizer but do not store it. These are the definitions the
// models publish in their own tokenizer.json (pre_tokenizer / normalizer), written as that JSON
// so they run through the same PreTokenizer/Normalizer code as tokenizer.json files. Regex
// character classes with letters that Unicode normalization would alter are written with
// \x{...} escapes.
#include "src/tokenizer/gguf_pre_tokenizers.h"

#include <array>

namespace pagellm::tokenizer {
namespace {

// ByteLevel after an explicit Split (the regex already did the splitting).
#define PAGELLM_BYTE_LEVEL_NO_REGEX \
  R"({"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false})"
#define PAGELLM_BYTE_LEVEL_REGEX \
  R"({"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true})"
#define PAGELLM_ISOLATED(re) \
  R"({"type":"Split","pattern":{"Regex":")" re R"("},"behavior":"Isolated","invert":false})"

// Llama 3 (tokenizer.json of Meta-Llama-3).
constexpr const char* kLlama3 = R"({"type":"Sequence","pretokenizers":[)" PAGELLM_ISOLATED(
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+)")
    "," PAGELLM_BYTE_LEVEL_NO_REGEX "]}";

// Qwen2 / Qwen2.5 / Qwen3: like Llama 3 but single digits.
constexpr const char* kQwen2 = R"({"type":"Sequence","pretokenizers":[)" PAGELLM_ISOLATED(
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+)")
    "," PAGELLM_BYTE_LEVEL_NO_REGEX "]}";

// DeepSeek LLM: newlines, cased-letter words, ASCII/CJK punctuation runs, trailing spaces, CJK
// runs, single digits.
constexpr const char* kDeepseekLlm =
    R"({"type":"Sequence","pretokenizers":[)" PAGELLM_ISOLATED(R"([\r\n])") ","
    PAGELLM_ISOLATED(R"(\\s?[)"
    R"(\\x{41}-\\x{5A}\\x{61}-\\x{7A}\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA})"
    R"(\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377})"
    R"(\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-)"
    R"(\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-)"
    R"(\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B})"
    R"(\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-)"
    R"(\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-)"
    R"(\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-)"
    R"(\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4})"
    R"(\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D})"
    R"(\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-)"
    R"(\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-)"
    R"(\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B})"
    R"(\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-)"
    R"(\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F})"
    R"(\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2})"
    R"(\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943})"
    R"(]+)") ","
    PAGELLM_ISOLATED(R"(\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+)") ","
    PAGELLM_ISOLATED(R"(\\s+$)") ","
    PAGELLM_ISOLATED(R"([\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+)") ","
    R"({"type":"Digits","individual_digits":true},)" PAGELLM_BYTE_LEVEL_NO_REGEX "]}";

// DeepSeek Coder.
constexpr const char* kDeepseekCoder =
    R"({"type":"Sequence","pretokenizers":[)" PAGELLM_ISOLATED(R"([\r\n])") ","
    PAGELLM_ISOLATED(R"(\\s?\\p{L}+)") "," PAGELLM_ISOLATED(R"(\\s?\\p{P}+)") ","
    PAGELLM_ISOLATED(R"([\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+)") ","
    R"({"type":"Digits","individual_digits":true},)" PAGELLM_BYTE_LEVEL_NO_REGEX "]}";

// Falcon: punctuation runs, GPT-2 splitting, digit runs, then groups of three digits.
constexpr const char* kFalcon =
    R"({"type":"Sequence","pretokenizers":[{"type":"Punctuation","behavior":"Contiguous"},)"
    PAGELLM_BYTE_LEVEL_REGEX R"(,{"type":"Digits","individual_digits":false},)"
    PAGELLM_ISOLATED(R"([0-9][0-9][0-9])") "]}";

// GPT-2 (and GPT-NeoX / MPT, whose tokenizer adds an NFC normalizer).
constexpr const char* kGpt2 = PAGELLM_BYTE_LEVEL_REGEX;

// StarCoder / Refact / SmolLM: single digits, then GPT-2 splitting.
constexpr const char* kStarcoder = R"({"type":"Sequence","pretokenizers":[)"
    R"({"type":"Digits","individual_digits":true},)" PAGELLM_BYTE_LEVEL_REGEX "]}";

constexpr const char* kNfc = R"({"type":"NFC"})";

#undef PAGELLM_BYTE_LEVEL_NO_REGEX
#undef PAGELLM_BYTE_LEVEL_REGEX
#undef PAGELLM_ISOLATED

struct Entry {
  const char* name;
  GgufPreTokenizer def;
};

const std::array<Entry, 15> kTable = {{
    {"default", {kGpt2, nullptr, false, false}},
    {"gpt-2", {kGpt2, nullptr, false, false}},
    {"phi-2", {kGpt2, nullptr, false, false}},
    {"mpt", {kGpt2, kNfc, false, false}},
    {"olmo", {kGpt2, kNfc, false, false}},
    {"llama-bpe", {kLlama3, nullptr, true, true}},
    {"llama3", {kLlama3, nullptr, true, true}},
    {"llama-v3", {kLlama3, nullptr, true, true}},
    {"qwen2", {kQwen2, kNfc, false, false}},
    {"deepseek-r1-qwen", {kQwen2, kNfc, false, false}},
    {"deepseek-llm", {kDeepseekLlm, nullptr, false, false}},
    {"deepseek-coder", {kDeepseekCoder, nullptr, false, false}},
    {"falcon", {kFalcon, nullptr, false, false}},
    {"starcoder", {kStarcoder, nullptr, false, false}},
    {"refact", {kStarcoder, nullptr, false, false}},
}};

}  // namespace

const GgufPreTokenizer* FindGgufPreTokenizer(std::string_view pre) {
  if (pre.empty()) pre = "default";
  if (pre == "smollm") pre = "starcoder";
  for (const Entry& e : kTable) {
    if (pre == e.name) return &e.def;
  }
  return nullptr;
}

}  // namespace pagellm::tokenizer
