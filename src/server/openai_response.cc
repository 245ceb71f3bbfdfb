// OpenAI response helpers: ids, usage, finish reasons, logprobs in both API shapes.
#include "src/server/openai_response.h"

#include <chrono>
#include <random>

namespace pagellm::server {

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string SseEvent(const Json& j) { return StrCat("data: ", Dump(j), "\n\n"); }

std::string NewRequestId(const char* prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return StrCat(prefix, "-", buf);
}

int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Json UsageJson(int64_t prompt_tokens, int64_t completion_tokens) {
  return Json{{"prompt_tokens", prompt_tokens},
              {"total_tokens", prompt_tokens + completion_tokens},
              {"completion_tokens", completion_tokens}};
}

Json FinishReasonJson(const CompletionOutput& c) {
  if (!c.finished()) return nullptr;
  return std::string(FinishReasonName(c.finish_reason));
}

Json StopReasonJson(const CompletionOutput& c) {
  if (c.stop_string) return *c.stop_string;
  if (c.stop_token) return *c.stop_token;
  return nullptr;
}

namespace {
std::string TokenText(const Tokenizer& tok, TokenId id) {
  auto b = tok.TokenBytes(id);
  return b.ok() ? std::string(*b) : std::string();
}
Json BytesJson(const std::string& s) {
  Json a = Json::array();
  for (unsigned char c : s) a.push_back(static_cast<int>(c));
  return a;
}
// Python-style length (code points) of valid UTF-8; each invalid byte counts as one.
size_t CodePoints(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}
}  // namespace

std::vector<LogprobEntry> OutputLogprobEntries(const std::vector<PositionLogprobs>& logprobs, size_t from,
                                               size_t count) {
  std::vector<LogprobEntry> out;
  for (size_t i = from; i < from + count && i < logprobs.size(); ++i) {
    out.push_back({logprobs[i].chosen.token, logprobs[i].chosen.logprob, logprobs[i].top});
  }
  return out;
}

Json CompletionLogprobsJson(const Tokenizer& tok, const std::vector<LogprobEntry>& entries, size_t text_offset) {
  Json tokens = Json::array(), token_logprobs = Json::array(), top = Json::array(), offsets = Json::array();
  size_t offset = text_offset;
  for (const LogprobEntry& e : entries) {
    const std::string text = TokenText(tok, e.token);
    tokens.push_back(text);
    token_logprobs.push_back(e.logprob ? Json(*e.logprob) : Json(nullptr));
    if (!e.logprob) {
      top.push_back(nullptr);
    } else {
      Json alts = Json::object();
      for (const TokenLogprob& t : e.top) alts[TokenText(tok, t.token)] = t.logprob;
      // The chosen token is always listed (OpenAI does so when it is outside the top k).
      alts[text] = *e.logprob;
      top.push_back(alts);
    }
    offsets.push_back(offset);
    offset += CodePoints(text);
  }
  return Json{{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top}, {"text_offset", offsets}};
}

Json ChatLogprobsJson(const Tokenizer& tok, const std::vector<PositionLogprobs>& logprobs, size_t from,
                      size_t count) {
  Json content = Json::array();
  for (size_t i = from; i < from + count && i < logprobs.size(); ++i) {
    const PositionLogprobs& p = logprobs[i];
    const std::string text = TokenText(tok, p.chosen.token);
    Json top = Json::array();
    for (const TokenLogprob& t : p.top) {
      const std::string alt = TokenText(tok, t.token);
      top.push_back(Json{{"token", alt}, {"logprob", t.logprob}, {"bytes", BytesJson(alt)}});
    }
    content.push_back(Json{{"token", text}, {"logprob", p.chosen.logprob}, {"bytes", BytesJson(text)}, {"top_logprobs", top}});
  }
  return Json{{"content", content}};
}

}  // namespace pagellm::server
