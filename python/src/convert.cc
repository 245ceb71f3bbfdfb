// RequestOutput -> Python dict, logprobs in vLLM's {token_id: (logprob, rank, text)} shape.
#include "python/src/convert.h"

#include "python/src/py_status.h"

namespace pagellm::python {
namespace {

py::object TokenText(const Tokenizer* tok, TokenId id) {
  if (tok == nullptr) return py::none();
  auto bytes = tok->TokenBytes(id);
  if (!bytes.ok()) return py::none();
  return DecodeUtf8(*bytes);
}

py::dict PositionToPython(const PositionLogprobs& p, const Tokenizer* tok) {
  py::dict d;
  auto add = [&](const TokenLogprob& t) {
    py::int_ key(t.token);
    if (d.contains(key)) return;
    d[key] = py::make_tuple(t.logprob, t.rank, TokenText(tok, t.token));
  };
  add(p.chosen);
  for (const TokenLogprob& t : p.top) add(t);
  return d;
}

py::list TokensToPython(const std::vector<TokenId>& ids) {
  py::list out(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) out[i] = py::int_(ids[i]);
  return out;
}

py::object FinishReasonToPython(FinishReason r) {
  if (r == FinishReason::kNone) return py::none();
  return py::str(std::string(FinishReasonName(r)));
}

py::object StopReasonToPython(const CompletionOutput& c) {
  if (c.stop_string) return DecodeUtf8(*c.stop_string);
  if (c.stop_token) return py::int_(*c.stop_token);
  return py::none();
}

py::dict CompletionToPython(const CompletionOutput& c, const Tokenizer* tok) {
  py::dict d;
  d["index"] = c.index;
  d["text"] = DecodeUtf8(c.text);
  d["token_ids"] = TokensToPython(c.token_ids);
  d["cumulative_logprob"] = c.cumulative_logprob ? py::object(py::float_(*c.cumulative_logprob)) : py::none();
  py::list lps(c.logprobs.size());
  for (size_t i = 0; i < c.logprobs.size(); ++i) lps[i] = PositionToPython(c.logprobs[i], tok);
  d["logprobs"] = lps;
  d["finish_reason"] = FinishReasonToPython(c.finish_reason);
  d["stop_reason"] = StopReasonToPython(c);
  return d;
}

py::dict MetricsToPython(const RequestMetrics& m) {
  py::dict d;
  d["arrival_time"] = m.arrival_time;
  d["first_scheduled_time"] = m.first_scheduled_time;
  d["first_token_time"] = m.first_token_time;
  d["last_token_time"] = m.last_token_time;
  d["finished_time"] = m.finished_time;
  d["num_prompt_tokens"] = m.num_prompt_tokens;
  d["num_generation_tokens"] = m.num_generation_tokens;
  d["num_cached_tokens"] = m.num_cached_tokens;
  d["num_preemptions"] = m.num_preemptions;
  return d;
}

}  // namespace

py::dict RequestOutputToPython(const RequestOutput& output, const Tokenizer* tok) {
  py::dict d;
  d["request_id"] = DecodeUtf8(output.request_id);
  d["prompt_token_ids"] = TokensToPython(output.prompt_token_ids);
  py::list prompt_lps(output.prompt_logprobs.size());
  for (size_t i = 0; i < output.prompt_logprobs.size(); ++i) {
    const auto& p = output.prompt_logprobs[i];
    prompt_lps[i] = p ? py::object(PositionToPython(*p, tok)) : py::none();
  }
  d["prompt_logprobs"] = prompt_lps;
  py::list outs(output.outputs.size());
  for (size_t i = 0; i < output.outputs.size(); ++i) outs[i] = CompletionToPython(output.outputs[i], tok);
  d["outputs"] = outs;
  d["finished"] = output.finished;
  d["metrics"] = MetricsToPython(output.metrics);
  return d;
}

}  // namespace pagellm::python
