// _C.EngineConfig (set by flag name from the one flag table), _C.Engine (an EngineLoop on its own
// thread) and _C.OutputStream (blocking reads without the GIL that stay interruptible).
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <pybind11/stl.h>

#include "python/src/bindings.h"
#include "python/src/convert.h"
#include "python/src/py_status.h"
#include "python/src/py_tokenizer.h"
#include "src/engine/engine_loop.h"

namespace pagellm::python {
namespace {

// How long a blocking read waits without the GIL before it checks for signals (Ctrl-C).
constexpr std::chrono::milliseconds kSignalPollInterval{50};

std::string PythonName(std::string_view flag) {
  std::string s(flag);
  for (char& c : s) {
    if (c == '-') c = '_';
  }
  return s;
}

py::dict ConfigToPython(const EngineConfig& c) {
  py::dict d;
  d["model"] = c.model;
  d["tokenizer"] = c.tokenizer;
  d["served_model_name"] = c.served_model_name;
  d["max_model_len"] = c.max_model_len;
  d["dtype"] = c.dtype;
  d["quantization"] = c.quantization;
  d["mmap"] = c.use_mmap;
  d["block_size"] = c.block_size;
  d["kv_cache_memory"] = c.kv_cache_memory_bytes;
  d["num_blocks"] = c.num_blocks;
  d["enable_prefix_caching"] = c.enable_prefix_caching;
  d["max_num_seqs"] = c.max_num_seqs;
  d["max_num_batched_tokens"] = c.max_num_batched_tokens;
  d["enable_chunked_prefill"] = c.enable_chunked_prefill;
  d["priority_scheduling"] = c.priority_scheduling;
  d["max_num_waiting"] = c.max_num_waiting;
  d["threads"] = c.threads;
  d["seed"] = c.seed;
  d["max_n"] = c.limits.max_n;
  d["max_logprobs"] = c.limits.max_logprobs;
  d["max_stop_strings"] = c.limits.max_stop_strings;
  d["max_stop_string_bytes"] = c.limits.max_stop_string_bytes;
  return d;
}

py::dict StatsToPython(const EngineStats& s) {
  py::dict d;
  d["num_running"] = s.num_running;
  d["num_waiting"] = s.num_waiting;
  d["num_preemptions"] = s.num_preemptions;
  d["prompt_tokens_total"] = s.prompt_tokens_total;
  d["generation_tokens_total"] = s.generation_tokens_total;
  d["steps"] = s.steps;
  d["kv_num_blocks"] = s.kv.num_blocks;
  d["kv_used_blocks"] = s.kv.used_blocks;
  d["kv_peak_used_blocks"] = s.kv.peak_used_blocks;
  d["kv_cached_blocks"] = s.kv.cached_blocks;
  d["prefix_cache_queries"] = s.kv.prefix_cache_queries;
  d["prefix_cache_hits"] = s.kv.prefix_cache_hits;
  return d;
}

// One request's outputs. The loop is held so the tokenizer outlives the stream.
class PyOutputStream {
 public:
  PyOutputStream(std::shared_ptr<OutputStream> stream, std::shared_ptr<EngineLoop> loop)
      : stream_(std::move(stream)), loop_(std::move(loop)) {}

  // The next output as a dict; None once the final output was read, or when `timeout` seconds
  // passed first (then done is still False). Raises if the request failed, and raises
  // KeyboardInterrupt (or whatever a signal handler raises) if a signal arrives while waiting.
  py::object Next(std::optional<double> timeout) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      auto wait = kSignalPollInterval;
      if (timeout) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::duration<double>(*timeout) - (std::chrono::steady_clock::now() - start));
        wait = std::max(std::chrono::milliseconds(0), std::min(wait, left));
      }
      std::optional<RequestOutput> out;
      {
        py::gil_scoped_release release;
        out = stream_->NextFor(wait);
      }
      if (out) return RequestOutputToPython(*out, loop_->engine().tokenizer());
      if (stream_->done()) {
        ThrowIfError(stream_->status());
        return py::none();
      }
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (timeout && std::chrono::steady_clock::now() - start >= std::chrono::duration<double>(*timeout)) {
        return py::none();
      }
    }
  }

  bool done() const { return stream_->done(); }
  const std::string& request_id() const { return stream_->request_id(); }

 private:
  std::shared_ptr<OutputStream> stream_;
  std::shared_ptr<EngineLoop> loop_;
};

class PyEngine {
 public:
  explicit PyEngine(const EngineConfig& config) {
    std::unique_ptr<Engine> engine;
    {
      py::gil_scoped_release release;
      engine = ValueOrThrow(Engine::Create(config));
      loop_ = std::make_shared<EngineLoop>(std::move(engine));
    }
  }

  PyOutputStream Submit(const std::string& request_id, std::vector<TokenId> prompt_token_ids,
                        const SamplingParams& params, int priority, const std::string& cache_salt) {
    EngineRequest req;
    req.request_id = request_id;
    req.prompt_token_ids = std::move(prompt_token_ids);
    req.params = params;
    req.priority = priority;
    req.cache_salt = cache_salt;
    std::shared_ptr<OutputStream> stream;
    {
      py::gil_scoped_release release;
      stream = ValueOrThrow(loop_->Submit(std::move(req)));
    }
    return PyOutputStream(std::move(stream), loop_);
  }

  // Queues many requests at once so they start in the same engine step (Submit waits for the
  // loop to take each request). All or nothing: if any request is refused, the accepted ones are
  // aborted and the first refusal is raised.
  std::vector<PyOutputStream> SubmitBatch(
      std::vector<std::tuple<std::string, std::vector<TokenId>, SamplingParams, int, std::string>> items) {
    std::vector<EngineRequest> reqs;
    reqs.reserve(items.size());
    for (auto& [id, ids, params, priority, salt] : items) {
      EngineRequest req;
      req.request_id = std::move(id);
      req.prompt_token_ids = std::move(ids);
      req.params = std::move(params);
      req.priority = priority;
      req.cache_salt = std::move(salt);
      reqs.push_back(std::move(req));
    }
    std::vector<StatusOr<std::shared_ptr<OutputStream>>> results;
    {
      py::gil_scoped_release release;
      results = loop_->SubmitBatch(std::move(reqs));
    }
    std::vector<PyOutputStream> streams;
    streams.reserve(results.size());
    const Status* first_error = nullptr;
    for (const auto& r : results) {
      if (!r.ok()) {
        if (first_error == nullptr) first_error = &r.status();
        continue;
      }
      streams.emplace_back(*r, loop_);
    }
    if (first_error != nullptr) {
      for (const auto& r : results) {
        if (r.ok()) loop_->Abort((*r)->request_id());
      }
      ThrowIfError(*first_error);
    }
    return streams;
  }

  void Abort(const std::string& request_id) { loop_->Abort(request_id); }

  void Shutdown() {
    py::gil_scoped_release release;
    loop_->Shutdown();
  }

  std::optional<PyTokenizer> tokenizer() const {
    const Tokenizer* tok = loop_->engine().tokenizer();
    if (tok == nullptr) return std::nullopt;
    return PyTokenizer{std::shared_ptr<const Tokenizer>(loop_, tok)};
  }

  const Engine& engine() const { return loop_->engine(); }
  EngineLoop& loop() { return *loop_; }

 private:
  std::shared_ptr<EngineLoop> loop_;
};

}  // namespace

void BindEngine(py::module_& m) {
  m.def(
      "engine_flags",
      [] {
        py::list out;
        for (const EngineFlag& f : EngineFlags()) {
          out.append(py::make_tuple(PythonName(f.name), std::string(f.name), std::string(f.value_name),
                                    std::string(f.help)));
        }
        return out;
      },
      "Every engine option as (python_name, cli_name, value_name, help); value_name is empty for "
      "switches.");

  py::class_<EngineConfig>(m, "EngineConfig")
      .def(py::init<>())
      .def(
          "set",
          [](EngineConfig& c, const std::string& name, const std::string& value) {
            const EngineFlag* flag = FindEngineFlag(name);
            if (flag == nullptr) throw StatusError(InvalidArgument(StrCat("unknown engine option '", name, "'")));
            ThrowIfError(flag->set(c, value));
          },
          py::arg("name"), py::arg("value"),
          "Sets an option by its CLI or Python name from its command-line text (ValueError if bad).")
      .def("to_dict", &ConfigToPython);

  py::class_<PyOutputStream>(m, "OutputStream")
      .def("next", &PyOutputStream::Next, py::arg("timeout") = py::none())
      .def_property_readonly("done", &PyOutputStream::done)
      .def_property_readonly("request_id", &PyOutputStream::request_id);

  py::class_<PyEngine>(m, "Engine")
      .def(py::init<const EngineConfig&>(), py::arg("config"))
      .def("submit", &PyEngine::Submit, py::arg("request_id"), py::arg("prompt_token_ids"), py::arg("params"),
           py::arg("priority") = 0, py::arg("cache_salt") = "")
      .def("submit_batch", &PyEngine::SubmitBatch, py::arg("requests"),
           "Queues [(request_id, prompt_token_ids, params, priority, cache_salt)] in one engine step.")
      .def("abort", &PyEngine::Abort, py::arg("request_id"))
      .def("shutdown", &PyEngine::Shutdown)
      .def_property_readonly("tokenizer", &PyEngine::tokenizer)
      .def_property_readonly("alive", [](PyEngine& e) { return e.loop().alive(); })
      .def_property_readonly("max_model_len", [](const PyEngine& e) { return e.engine().max_model_len(); })
      .def_property_readonly("vocab_size", [](const PyEngine& e) { return e.engine().model_config().vocab_size; })
      .def_property_readonly("num_kv_blocks", [](const PyEngine& e) { return e.engine().num_kv_blocks(); })
      .def_property_readonly("config", [](const PyEngine& e) { return ConfigToPython(e.engine().config()); })
      .def_property_readonly("model_config",
                             [](const PyEngine& e) {
                               const ModelConfig& c = e.engine().model_config();
                               py::dict d;
                               d["architecture"] = c.architecture;
                               d["hidden_size"] = c.hidden_size;
                               d["intermediate_size"] = c.intermediate_size;
                               d["num_layers"] = c.num_layers;
                               d["num_heads"] = c.num_heads;
                               d["num_kv_heads"] = c.num_kv_heads;
                               d["head_dim"] = c.head_dim;
                               d["vocab_size"] = c.vocab_size;
                               d["max_position_embeddings"] = c.max_position_embeddings;
                               d["torch_dtype"] = c.torch_dtype;
                               return d;
                             })
      .def("stats", [](PyEngine& e) {
        const EngineSnapshot s = e.loop().Snapshot();
        py::dict d = StatsToPython(s.stats);
        d["alive"] = s.alive;
        return d;
      });
}

}  // namespace pagellm::python
