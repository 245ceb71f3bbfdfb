// BlockHash: SHA-256 through OpenSSL's EVP interface.
#include "src/kv/block_hash.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "src/base/check.h"

namespace pagellm {

BlockHash RandomSeedHash() {
  BlockHash h;
  CHECK_MSG(RAND_bytes(h.bytes.data(), static_cast<int>(h.bytes.size())) == 1,
            "OpenSSL RAND_bytes failed");
  return h;
}

BlockHash SeedHashFromNumber(uint64_t seed) {
  const std::string_view tag = "pagellm-prefix-cache-seed";
  BlockHash h;
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  CHECK(ctx != nullptr);
  CHECK(EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1);
  EVP_DigestUpdate(ctx, tag.data(), tag.size());
  EVP_DigestUpdate(ctx, &seed, sizeof(seed));
  CHECK(EVP_DigestFinal_ex(ctx, h.bytes.data(), &len) == 1 && len == 32);
  EVP_MD_CTX_free(ctx);
  return h;
}

BlockHash HashBlock(const BlockHash& parent, std::span<const TokenId> tokens, std::string_view extra) {
  BlockHash h;
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  CHECK(ctx != nullptr);
  CHECK(EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1);
  EVP_DigestUpdate(ctx, parent.bytes.data(), parent.bytes.size());
  const uint64_t n = tokens.size();
  EVP_DigestUpdate(ctx, &n, sizeof(n));
  EVP_DigestUpdate(ctx, tokens.data(), tokens.size_bytes());
  const uint64_t extra_len = extra.size();
  EVP_DigestUpdate(ctx, &extra_len, sizeof(extra_len));
  EVP_DigestUpdate(ctx, extra.data(), extra.size());
  CHECK(EVP_DigestFinal_ex(ctx, h.bytes.data(), &len) == 1 && len == 32);
  EVP_MD_CTX_free(ctx);
  return h;
}

}  // namespace pagellm
