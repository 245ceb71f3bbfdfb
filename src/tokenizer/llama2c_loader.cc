// Tokenizer::FromLlama2c: llama2.c tokenizer.bin -> TokenizerParts (encoded as run.c does).
#include "src/base/byte_reader.h"
#include "src/base/mapped_file.h"
#include "src/tokenizer/tokenizer.h"
#include "src/tokenizer/tokenizer_internal.h"

namespace pagellm {
namespace {

constexpr std::string_view kMetaspace = "\xE2\x96\x81";

// Special pieces are stored as "\n<s>\n" / "\n</s>\n"; show them without the newlines.
std::string PublicPiece(std::string_view raw, int id) {
  if ((id == 1 || id == 2) && raw.size() >= 2 && raw.front() == '\n' && raw.back() == '\n') {
    return std::string(raw.substr(1, raw.size() - 2));
  }
  return tokenizer::ReplaceAll(raw, " ", kMetaspace);
}

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromLlama2c(const std::string& path,
                                                            int vocab_size) {
  ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  auto t = FromLlama2cBytes(file->bytes(), vocab_size);
  if (!t.ok()) return Status(t.status().code(), ToAbsl(StrCat(path, ": ", t.status().message())));
  return t;
}

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromLlama2cBytes(std::span<const uint8_t> bytes,
                                                                 int vocab_size) {
  constexpr int kFirstByteToken = 3;  // <unk>, <s>, </s>, then <0x00>..<0xFF>
  if (vocab_size < kFirstByteToken + 256 || vocab_size > tokenizer::kMaxVocabSize) {
    return InvalidArgument(StrCat("llama2.c tokenizer: vocab_size ", vocab_size,
                                  " must be in [259, ", tokenizer::kMaxVocabSize, "]"));
  }
  ByteReader reader(bytes);
  int32_t max_token_length = 0;
  RETURN_IF_ERROR(reader.Read(&max_token_length, "max_token_length"));
  if (max_token_length <= 0 || static_cast<size_t>(max_token_length) > tokenizer::kMaxPieceBytes) {
    return DataLoss(StrCat("llama2.c tokenizer: max_token_length ", max_token_length,
                           " is not a plausible length"));
  }
  // Every token needs at least 8 bytes (score + length): check before allocating.
  if (reader.remaining() / 8 < static_cast<uint64_t>(vocab_size)) {
    return DataLoss(StrCat("llama2.c tokenizer: ", reader.remaining(), " bytes cannot hold ",
                           vocab_size, " tokens"));
  }
  tokenizer::TokenizerParts parts;
  parts.source = "llama2.c tokenizer";
  std::vector<std::string> raw(vocab_size);
  std::vector<float> scores(vocab_size);
  parts.tokens.resize(vocab_size);
  for (int i = 0; i < vocab_size; ++i) {
    const std::string what = StrCat("token ", i);
    int32_t len = 0;
    RETURN_IF_ERROR(reader.Read(&scores[i], what));
    RETURN_IF_ERROR(reader.Read(&len, what));
    if (len < 0 || len > max_token_length) {
      return DataLoss(StrCat("llama2.c tokenizer: token ", i, " has length ", len,
                             " (max_token_length ", max_token_length, ")"));
    }
    std::span<const uint8_t> piece;
    RETURN_IF_ERROR(reader.ReadBytes(static_cast<uint64_t>(len), &piece, what));
    raw[i].assign(reinterpret_cast<const char*>(piece.data()), piece.size());
    auto& t = parts.tokens[i];
    t.piece = PublicPiece(raw[i], i);
    t.score = scores[i];
    t.type = i == 0 ? TokenType::kUnknown
             : i < kFirstByteToken ? TokenType::kControl
             : i < kFirstByteToken + 256 ? TokenType::kByte
                                         : TokenType::kNormal;
  }
  if (reader.remaining() != 0) {
    return DataLoss(StrCat("llama2.c tokenizer: ", reader.remaining(),
                           " unexpected bytes after ", vocab_size, " tokens"));
  }
  const auto byte_ids = tokenizer::FindByteTokens(parts.tokens);
  for (int b = 0; b < 256; ++b) {
    if (byte_ids[b] != kFirstByteToken + b) {
      return InvalidArgument(StrCat("llama2.c tokenizer: id ", kFirstByteToken + b,
                                    " must be the byte token <0x", b < 16 ? "0" : "",
                                    absl::StrFormat("%X", b), ">"));
    }
  }
  for (int i = 0; i < vocab_size; ++i) parts.vocab->try_emplace(parts.tokens[i].piece, i);
  parts.model = std::make_unique<tokenizer::Llama2cModel>(std::move(raw), std::move(scores));
  parts.decoder = tokenizer::Decoder::SentencePiece(/*strip_leading_space=*/true);
  parts.unk_id = 0;
  parts.bos_id = 1;
  parts.eos_id = 2;
  parts.prefix_ids = {1};
  for (int i = 0; i < kFirstByteToken; ++i) {
    tokenizer::AddedToken a;
    a.id = i;
    a.content = parts.tokens[i].piece;
    a.special = true;
    parts.added.push_back(std::move(a));
  }
  return Create(std::move(parts));
}

}  // namespace pagellm
