// `pagellm bench latency | throughput | serve`: speed measurements like `vllm bench` and
// llama-bench.
//   latency     batch-1 prefill (pp) and decode (tg) tokens/s, mean ± stddev over repeats
//   throughput  offline: every request through the engine at once (or C at a time)
//   serve       an OpenAI-API streaming client against a running server (ours, vLLM,
//               llama-server): TTFT, TPOT, ITL, E2EL, throughput, goodput
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/numbers.h"
#include "nlohmann/json.hpp"
#include "src/base/progress_bar.h"
#include "src/engine/llm.h"
#include "src/format/gguf.h"
#include "src/kernels/read_bandwidth.h"
#include "tools/bench_dataset.h"
#include "tools/bench_http.h"
#include "tools/bench_metrics.h"
#include "tools/bench_profile.h"
#include "tools/cli_args.h"
#include "tools/commands.h"

namespace pagellm {
namespace {

using bench::BenchRequest;
using Json = nlohmann::json;

std::function<Status(std::string_view)> IntFlag(std::string_view name, int64_t min, int64_t max, int64_t* out) {
  return [name, min, max, out](std::string_view v) -> Status {
    int64_t x = 0;
    if (!absl::SimpleAtoi(ToAbsl(v), &x) || x < min || x > max) {
      return InvalidArgument(StrCat("--", name, " expects an integer in [", min, ", ", max, "], got '", v, "'"));
    }
    *out = x;
    return absl::OkStatus();
  };
}

std::function<Status(std::string_view)> DoubleFlag(std::string_view name, double min, double max, double* out) {
  return [name, min, max, out](std::string_view v) -> Status {
    double x = 0;
    if (!absl::SimpleAtod(ToAbsl(v), &x) || !(x >= min && x <= max)) {
      return InvalidArgument(StrCat("--", name, " expects a number in [", min, ", ", max, "], got '", v, "'"));
    }
    *out = x;
    return absl::OkStatus();
  };
}

std::function<Status(std::string_view)> StringFlag(std::string* out) {
  return [out](std::string_view v) {
    *out = std::string(v);
    return absl::OkStatus();
  };
}

std::function<Status(std::string_view)> SeedFlag(uint64_t* out) {
  return [out](std::string_view v) -> Status {
    if (!absl::SimpleAtoi(ToAbsl(v), out)) return InvalidArgument(StrCat("--seed expects a non-negative integer, got '", v, "'"));
    return absl::OkStatus();
  };
}

template <typename Text>  // std::string or absl::string_view (Status::message)
int Fail(const Text& message, int code = 1) {
  std::cerr << "error: " << message << "\n";
  return code;
}

int CpuCount() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::string Fixed(double v, int digits = 2) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string Now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", std::localtime(&t));
  return buf;
}

Status WriteJson(const std::string& path, const Json& j) {
  std::ofstream out(path);
  if (!out) return InvalidArgument(StrCat("cannot write ", path));
  out << j.dump(2) << "\n";
  if (!out) return InvalidArgument(StrCat("cannot write ", path));
  std::fprintf(stderr, "[bench] results written to %s\n", path.c_str());
  return absl::OkStatus();
}

// Parses the command line of an engine-backed subcommand (MODEL [engine flags] [own flags]) and
// loads the model. Returns the exit code to use when not ok (help: 0).
struct EngineCli {
  EngineConfig config;
  std::unique_ptr<LLM> llm;
  int exit_code = -1;  // >= 0: return this
};

EngineCli LoadEngineCli(int argc, char** argv, std::string_view usage, const std::vector<CliFlag>& flags,
                        const std::function<Status()>& validate) {
  EngineCli cli;
  bool help = false;
  std::vector<std::string> positional;
  Status s = ParseCli(argc, argv, 3, flags, &cli.config, &positional, &help);
  if (help) {
    std::cout << CliHelp(usage, flags, true);
    cli.exit_code = 0;
    return cli;
  }
  if (s.ok() && positional.size() > 1) s = InvalidArgument(StrCat("takes one MODEL argument, got '", positional[1], "' too"));
  if (s.ok()) s = validate();
  if (!s.ok()) {
    cli.exit_code = Fail(s.message(), 2);
    return cli;
  }
  if (!positional.empty()) cli.config.model = positional[0];
  auto model = ResolveModelPath(cli.config.model);
  if (!model.ok()) {
    cli.exit_code = Fail(model.status().message(), 2);
    return cli;
  }
  cli.config.model = *model;
  std::fprintf(stderr, "[bench] loading %s\n", cli.config.model.c_str());
  auto llm = LLM::Create(cli.config);
  if (!llm.ok()) {
    cli.exit_code = Fail(llm.status().message());
    return cli;
  }
  cli.llm = std::move(*llm);
  return cli;
}

// Token ids that random prompts avoid: BOS and the end-of-generation ids.
std::vector<int32_t> SpecialIds(const Tokenizer* tok) {
  std::vector<int32_t> ids;
  if (tok == nullptr) return ids;
  if (tok->bos_id() >= 0) ids.push_back(tok->bos_id());
  for (TokenId id : tok->eos_ids()) ids.push_back(id);
  return ids;
}

// The model for tables: the served name if set, else the path's last component, with its parent
// for folders ("stories260K/hf").
std::string ModelLabel(const EngineConfig& c) {
  if (!c.served_model_name.empty()) return c.served_model_name;
  std::filesystem::path p = std::filesystem::path(c.model).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec) && p.has_parent_path() && p.parent_path().has_filename()) {
    return (p.parent_path().filename() / p.filename()).string();
  }
  return p.filename().string();
}

std::string ThreadsLabel(const EngineConfig& c) {
  return c.threads > 0 ? StrCat(c.threads) : StrCat(CpuCount());
}

// ---------------------------------------------------------------------------------------------
// bench latency

int LatencyMain(int argc, char** argv) {
  int64_t input_len = 512, output_len = 128, repeat = 5, warmup = 1;
  uint64_t seed = 0;
  std::string output_json;
  bool profile = false;
  const std::vector<CliFlag> flags = {
      {"input-len", "N", "prompt tokens of the prefill test ppN (default 512; 0 skips it)",
       IntFlag("input-len", 0, 1 << 24, &input_len)},
      {"output-len", "N", "tokens to generate in the decode test tgN (default 128; 0 skips it)",
       IntFlag("output-len", 0, 1 << 24, &output_len)},
      {"repeat", "N", "measured runs of each test (default 5)", IntFlag("repeat", 1, 100000, &repeat)},
      {"warmup", "N", "unmeasured runs of each test first (default 1)", IntFlag("warmup", 0, 1000, &warmup)},
      {"seed", "N", "seed of the random prompts (default 0)", SeedFlag(&seed)},
      {"output-json", "FILE", "also write the results as JSON", StringFlag(&output_json)},
      {"profile", "", "also time every op of the forward pass in the measured runs and compare the matmuls' weight "
       "streaming with the read bandwidth measured in this process",
       [&](std::string_view) { profile = true; return absl::OkStatus(); }},
  };
  EngineCli cli = LoadEngineCli(
      argc, argv, "pagellm bench latency [MODEL] [--input-len 512] [--output-len 128] [--repeat 5] [options]", flags,
      [&]() -> Status {
        if (input_len == 0 && output_len == 0) return InvalidArgument("--input-len and --output-len are both 0: nothing to measure");
        if (output_len == 1) return InvalidArgument("--output-len must be 0 or at least 2 (decode speed is timed after the first token)");
        return absl::OkStatus();
      });
  if (cli.exit_code >= 0) return cli.exit_code;
  LLM& llm = *cli.llm;
  const int64_t max_len = llm.engine().max_model_len();
  if (input_len + 1 > max_len) {
    return Fail(StrCat("--input-len ", input_len, " plus one generated token exceeds the context length ", max_len,
                       " (pass a smaller --input-len or --max-model-len)"), 2);
  }
  if (output_len + 1 > max_len) {
    return Fail(StrCat("--output-len ", output_len, " after a one-token prompt exceeds the context length ", max_len,
                       " (pass a smaller --output-len or --max-model-len)"), 2);
  }
  const Tokenizer* tok = llm.engine().tokenizer();
  const int64_t vocab = llm.engine().model_config().vocab_size;
  const std::vector<int32_t> special = SpecialIds(tok);
  std::mt19937_64 rng(seed);

  struct Test {
    std::string name;
    int64_t tokens;  // tokens timed per run
    std::vector<double> seconds;
    bench::ProfileReport profile;
  };
  std::vector<Test> tests;
  if (input_len > 0) tests.push_back({StrCat("pp", input_len), input_len, {}});
  if (output_len > 0) tests.push_back({StrCat("tg", output_len), output_len - 1, {}});

  SamplingParams base;
  base.temperature = 0;
  base.ignore_eos = true;
  ProgressBar bar("bench latency", static_cast<uint64_t>((warmup + repeat) * static_cast<int64_t>(tests.size())), "runs");
  for (Test& t : tests) {
    const bool prefill = t.name[0] == 'p';
    for (int64_t run = 0; run < warmup + repeat; ++run) {
      // Each run gets fresh random tokens, so the prefix cache never serves a prefill.
      std::vector<TokenId> prompt =
          prefill ? bench::RandomTokenIds(input_len, vocab, special, rng)
                  : std::vector<TokenId>{tok != nullptr && tok->bos_id() >= 0 ? tok->bos_id()
                                                                              : bench::RandomTokenIds(1, vocab, special, rng)[0]};
      SamplingParams p = base;
      p.max_tokens = prefill ? 1 : static_cast<int>(output_len);
      if (profile) llm.loop().SetForwardProfile(run >= warmup ? &t.profile.profile : nullptr);
      auto out = llm.Generate({Prompt(std::move(prompt))}, {p}, {.use_progress_bar = false});
      if (profile) llm.loop().SetForwardProfile(nullptr);
      if (!out.ok()) return Fail(StrCat(t.name, ": ", out.status().message()));
      const RequestOutput& o = (*out)[0];
      const RequestMetrics& m = o.metrics;
      const int64_t generated = o.outputs.empty() ? 0 : static_cast<int64_t>(o.outputs[0].token_ids.size());
      if (generated != p.max_tokens) {
        return Fail(StrCat(t.name, ": generated ", generated, " tokens instead of ", p.max_tokens));
      }
      // Engine timestamps: from the first step that ran the request to the step that sampled
      // its first token (prefill), or from the first to the last sampled token (decode).
      const double secs = prefill ? m.first_token_time - m.first_scheduled_time : m.last_token_time - m.first_token_time;
      if (run >= warmup) {
        t.seconds.push_back(secs);
        t.profile.timed_seconds += secs;
        t.profile.timed_steps += prefill ? 1 : output_len - 1;
      }
      bar.Add(1);
    }
  }
  bar.Finish();
  if (profile) {
    // The baseline with the engine's thread count, now that the engine is idle.
    ThreadPool pool(cli.config.threads > 0 ? static_cast<int>(cli.config.threads) : CpuCount());
    const double gbs = MeasureReadBandwidth(pool);
    for (Test& t : tests) {
      t.profile.test = t.name;
      t.profile.read_gbs = gbs;
    }
  }

  const std::string model_name = ModelLabel(cli.config);
  const std::string threads = ThreadsLabel(cli.config);
  std::printf("| %-24s | %7s | %-8s | %22s | %12s |\n", "model", "threads", "test", "t/s", "ms/run");
  std::printf("| %s | %s: | %s | %s: | %s: |\n", std::string(24, '-').c_str(), std::string(6, '-').c_str(),
              std::string(8, '-').c_str(), std::string(21, '-').c_str(), std::string(11, '-').c_str());
  Json results = Json::array();
  for (const Test& t : tests) {
    std::vector<double> tps;
    for (double s : t.seconds) tps.push_back(s > 0 ? static_cast<double>(t.tokens) / s : 0.0);
    const double mean = bench::Mean(tps), sd = bench::StdDev(tps, 1);
    std::vector<double> ms;
    for (double s : t.seconds) ms.push_back(s * 1e3);
    // "±" is two bytes in UTF-8 but one column: one more byte of width keeps the table aligned.
    std::printf("| %-24s | %7s | %-8s | %23s | %12s |\n", model_name.c_str(), threads.c_str(), t.name.c_str(),
                StrCat(Fixed(mean), " ± ", Fixed(sd)).c_str(), Fixed(bench::Mean(ms), 3).c_str());
    results.push_back({{"test", t.name},
                       {"n_tokens", t.tokens},
                       {"tokens_per_second_mean", mean},
                       {"tokens_per_second_std", sd},
                       {"tokens_per_second", tps},
                       {"seconds", t.seconds}});
    if (profile) results.back()["profile"] = bench::ProfileJson(t.profile);
  }
  if (profile) {
    for (const Test& t : tests) std::printf("%s", bench::FormatProfile(t.profile).c_str());
  }
  if (!output_json.empty()) {
    Json j = {{"command", "latency"},  {"date", Now()},         {"model", cli.config.model},
              {"threads", threads},    {"input_len", input_len}, {"output_len", output_len},
              {"repeat", repeat},      {"warmup", warmup},       {"results", results}};
    if (Status s = WriteJson(output_json, j); !s.ok()) return Fail(s.message());
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// bench throughput

int ThroughputMain(int argc, char** argv) {
  int64_t num_prompts = 1000, input_len = 1024, output_len = 128, concurrency = 0;
  double range_ratio = 0;
  uint64_t seed = 0;
  std::string dataset, output_json;
  bool output_len_set = false;
  const std::vector<CliFlag> flags = {
      {"num-prompts", "N", "requests (default 1000)", IntFlag("num-prompts", 1, 1 << 24, &num_prompts)},
      {"input-len", "N", "random prompt tokens per request (default 1024)", IntFlag("input-len", 1, 1 << 24, &input_len)},
      {"output-len", "N", "tokens to generate per request (default 128; with --dataset: overrides the answers' lengths)",
       [&](std::string_view v) {
         output_len_set = true;
         return IntFlag("output-len", 1, 1 << 24, &output_len)(v);
       }},
      {"random-range-ratio", "R", "random lengths uniform in [len*(1-R), len*(1+R)] (default 0)",
       DoubleFlag("random-range-ratio", 0, 0.999, &range_ratio)},
      {"dataset", "FILE", "ShareGPT JSON instead of random prompts", StringFlag(&dataset)},
      {"concurrency", "C", "keep at most C requests in flight (default: all at once)",
       IntFlag("concurrency", 1, 1 << 24, &concurrency)},
      {"seed", "N", "seed of the random prompts and the dataset order (default 0)", SeedFlag(&seed)},
      {"output-json", "FILE", "also write the results as JSON", StringFlag(&output_json)},
  };
  std::vector<bench::Conversation> conversations;
  EngineCli cli = LoadEngineCli(
      argc, argv, "pagellm bench throughput [MODEL] --num-prompts N --input-len I --output-len O [options]", flags,
      [&]() -> Status {
        if (dataset.empty()) return absl::OkStatus();
        ASSIGN_OR_RETURN(conversations, bench::LoadShareGpt(dataset));  // before loading the model
        return absl::OkStatus();
      });
  if (cli.exit_code >= 0) return cli.exit_code;
  LLM& llm = *cli.llm;
  const int64_t max_len = llm.engine().max_model_len();
  const Tokenizer* tok = llm.engine().tokenizer();

  // The requests, all as token ids (tokenized before the clock starts).
  std::vector<BenchRequest> requests;
  std::mt19937_64 rng(seed);
  if (!dataset.empty()) {
    if (tok == nullptr) return Fail("--dataset needs a model with a tokenizer");
    bench::TokenCounter count = [&](const std::string& text) -> StatusOr<int64_t> {
      ASSIGN_OR_RETURN(auto ids, llm.Tokenize(text));
      return static_cast<int64_t>(ids.size());
    };
    auto sampled = bench::SampleShareGpt(conversations, static_cast<size_t>(num_prompts), seed, count, max_len,
                                         output_len_set ? output_len : 0);
    if (!sampled.ok()) return Fail(StrCat(dataset, ": ", sampled.status().message()));
    requests = std::move(*sampled);
    for (BenchRequest& r : requests) {
      auto ids = llm.Tokenize(r.prompt_text);
      if (!ids.ok()) return Fail(ids.status().message());
      r.prompt_ids = std::move(*ids);
      r.prompt_len = static_cast<int64_t>(r.prompt_ids.size());
    }
  } else {
    const int64_t vocab = llm.engine().model_config().vocab_size;
    const std::vector<int32_t> special = SpecialIds(tok);
    const auto in_lens = bench::SampleLengths(num_prompts, input_len, range_ratio, rng);
    const auto out_lens = bench::SampleLengths(num_prompts, output_len, range_ratio, rng);
    for (int64_t i = 0; i < num_prompts; ++i) {
      if (in_lens[i] + out_lens[i] > max_len) {
        return Fail(StrCat("--input-len ", input_len, " + --output-len ", output_len,
                           range_ratio > 0 ? StrCat(" (up to ", in_lens[i], " + ", out_lens[i], " with --random-range-ratio)") : "",
                           " exceeds the context length ", max_len, " (pass smaller lengths or --max-model-len)"),
                    2);
      }
      BenchRequest r;
      r.prompt_ids = bench::RandomTokenIds(in_lens[i], vocab, special, rng);
      r.prompt_len = in_lens[i];
      r.output_len = out_lens[i];
      requests.push_back(std::move(r));
    }
  }
  std::vector<SamplingParams> params;
  int64_t expected_output = 0;
  for (const BenchRequest& r : requests) {
    SamplingParams p;
    p.temperature = 1.0f;
    p.ignore_eos = true;
    p.max_tokens = static_cast<int>(r.output_len);
    params.push_back(p);
    expected_output += r.output_len;
  }

  std::vector<RequestOutput> outputs;
  const auto t0 = std::chrono::steady_clock::now();
  if (concurrency == 0 || concurrency >= num_prompts) {
    std::vector<Prompt> prompts;
    for (BenchRequest& r : requests) prompts.emplace_back(r.prompt_ids);
    auto out = llm.Generate(prompts, params);
    if (!out.ok()) return Fail(out.status().message());
    outputs = std::move(*out);
  } else {
    // At most `concurrency` requests in the engine; each one that finishes lets the next in.
    std::mutex mu;
    std::condition_variable cv;
    std::deque<StatusOr<RequestOutput>> done;
    auto submit = [&](size_t i) -> Status {
      EngineRequest req;
      req.request_id = StrCat("bench-", i);
      req.prompt_token_ids = requests[i].prompt_ids;
      req.params = params[i];
      return llm.loop().Submit(std::move(req), [&](StatusOr<RequestOutput> o) {
        if (o.ok() && !o->finished) return;
        std::lock_guard lock(mu);
        done.push_back(std::move(o));
        cv.notify_one();
      });
    };
    // On an error, stop the engine before `done` goes out of scope: the loop would otherwise call
    // back into it while aborting the requests still running.
    auto fail = [&](const Status& s, size_t i) {
      llm.loop().Shutdown();
      return Fail(StrCat("request ", i, ": ", s.message()));
    };
    ProgressBar bar("Processed prompts", requests.size(), "req");
    size_t next = 0;
    for (; next < static_cast<size_t>(concurrency); ++next) {
      if (Status s = submit(next); !s.ok()) return fail(s, next);
    }
    while (outputs.size() < requests.size()) {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return !done.empty(); });
      StatusOr<RequestOutput> o = std::move(done.front());
      done.pop_front();
      lock.unlock();
      if (!o.ok()) return fail(o.status(), outputs.size());
      outputs.push_back(std::move(*o));
      bar.Add(1);
      if (next < requests.size()) {
        if (Status s = submit(next); !s.ok()) return fail(s, next);
        ++next;
      }
    }
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  int64_t prompt_tokens = 0, output_tokens = 0;
  std::vector<double> ttft_ms, tpot_ms;
  for (const RequestOutput& o : outputs) {
    prompt_tokens += static_cast<int64_t>(o.prompt_token_ids.size());
    for (const CompletionOutput& c : o.outputs) output_tokens += static_cast<int64_t>(c.token_ids.size());
    const RequestMetrics& m = o.metrics;
    ttft_ms.push_back((m.first_token_time - m.arrival_time) * 1e3);
    if (m.num_generation_tokens > 1) {
      tpot_ms.push_back((m.last_token_time - m.first_token_time) / static_cast<double>(m.num_generation_tokens - 1) * 1e3);
    }
  }
  if (output_tokens != expected_output) {
    std::fprintf(stderr, "[bench] warning: %lld output tokens instead of the %lld asked for\n",
                 static_cast<long long>(output_tokens), static_cast<long long>(expected_output));
  }
  const double n = static_cast<double>(outputs.size());
  const double total = static_cast<double>(prompt_tokens + output_tokens);
  const EngineStats stats = llm.loop().Snapshot().stats;
  std::printf("Throughput: %.2f requests/s, %.2f total tokens/s, %.2f output tokens/s\n", n / elapsed, total / elapsed,
              static_cast<double>(output_tokens) / elapsed);
  std::printf("Requests: %zu (concurrency %s), elapsed %.3f s\n", outputs.size(),
              concurrency == 0 || concurrency >= num_prompts ? "all" : std::to_string(concurrency).c_str(), elapsed);
  std::printf("Total prompt tokens: %lld\nTotal output tokens: %lld\n", static_cast<long long>(prompt_tokens),
              static_cast<long long>(output_tokens));
  std::printf("Mean TTFT: %.2f ms, mean TPOT: %.2f ms (engine timestamps); preemptions: %lld\n",
              bench::Mean(ttft_ms), bench::Mean(tpot_ms), static_cast<long long>(stats.num_preemptions));
  if (!output_json.empty()) {
    Json j = {{"command", "throughput"},
              {"date", Now()},
              {"model", cli.config.model},
              {"threads", ThreadsLabel(cli.config)},
              {"dataset", dataset.empty() ? Json("random") : Json(dataset)},
              {"num_requests", outputs.size()},
              {"concurrency", concurrency == 0 || concurrency >= num_prompts ? Json(nullptr) : Json(concurrency)},
              {"elapsed_time", elapsed},
              {"total_prompt_tokens", prompt_tokens},
              {"total_output_tokens", output_tokens},
              {"total_num_tokens", prompt_tokens + output_tokens},
              {"requests_per_second", n / elapsed},
              {"tokens_per_second", total / elapsed},
              {"output_tokens_per_second", static_cast<double>(output_tokens) / elapsed},
              {"mean_ttft_ms", bench::Mean(ttft_ms)},
              {"mean_tpot_ms", bench::Mean(tpot_ms)},
              {"num_preemptions", stats.num_preemptions}};
    if (Status s = WriteJson(output_json, j); !s.ok()) return Fail(s.message());
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// bench serve

StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerFrom(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(path);
  if (fs::is_directory(p, ec)) {
    if (fs::exists(p / "tokenizer.json", ec)) {
      const fs::path cfg = p / "tokenizer_config.json";
      return Tokenizer::FromHfFiles((p / "tokenizer.json").string(), fs::exists(cfg, ec) ? cfg.string() : "");
    }
    return InvalidArgument(StrCat("--tokenizer ", path, ": no tokenizer.json in this folder"));
  }
  if (!fs::exists(p, ec)) return NotFound(StrCat("--tokenizer ", path, ": no such file or folder"));
  if (p.extension() == ".gguf") {
    ASSIGN_OR_RETURN(auto gguf, GgufFile::Open(path));
    return Tokenizer::FromGguf(*gguf);
  }
  if (p.extension() == ".json") {
    const fs::path cfg = p.parent_path() / "tokenizer_config.json";
    return Tokenizer::FromHfFiles(path, fs::exists(cfg, ec) ? cfg.string() : "");
  }
  return InvalidArgument(StrCat("--tokenizer ", path, ": expected a folder with tokenizer.json, a tokenizer.json or a .gguf"));
}

int ServeBenchMain(int argc, char** argv) {
  std::string base_url = "http://127.0.0.1:8000", endpoint = "/v1/completions", model, tokenizer_path, api_key;
  std::string dataset_name = "random", dataset_path, prompt_mode, output_json, request_rate_text = "inf";
  std::string percentiles_text = "99";
  int64_t num_prompts = 1000, max_concurrency = 0, input_len = 1024, output_len = 128, timeout = 300;
  int64_t ready_timeout = 0, sharegpt_output_len = 0, sharegpt_max_len = 2048, vocab_size = 0;
  double burstiness = 1, range_ratio = 0;
  uint64_t seed = 0;
  bool ignore_eos = true;
  bench::GoodputSlo slo;
  const std::vector<CliFlag> flags = {
      {"base-url", "URL", "server address (default http://127.0.0.1:8000)", StringFlag(&base_url)},
      {"endpoint", "PATH", "/v1/completions (default) or /v1/chat/completions", StringFlag(&endpoint)},
      {"model", "NAME", "model name to send (default: the first one /v1/models lists)", StringFlag(&model)},
      {"tokenizer", "PATH", "tokenizer for ShareGPT lengths and random token ids (HF folder, tokenizer.json, .gguf)",
       StringFlag(&tokenizer_path)},
      {"api-key", "KEY", "send 'Authorization: Bearer KEY' (default $OPENAI_API_KEY)", StringFlag(&api_key)},
      {"num-prompts", "N", "requests (default 1000)", IntFlag("num-prompts", 1, 1 << 24, &num_prompts)},
      {"request-rate", "R", "requests/s, or inf to send all at once (default inf)", StringFlag(&request_rate_text)},
      {"burstiness", "B", "gamma shape of the arrival gaps: 1 = Poisson, < 1 burstier (default 1)",
       DoubleFlag("burstiness", 1e-3, 1e6, &burstiness)},
      {"max-concurrency", "C", "requests in flight at most (default: no limit)",
       IntFlag("max-concurrency", 1, 1 << 24, &max_concurrency)},
      {"dataset-name", "NAME", "random (default) or sharegpt", StringFlag(&dataset_name)},
      {"dataset-path", "FILE", "ShareGPT JSON file", StringFlag(&dataset_path)},
      {"random-input-len", "N", "random prompt tokens (default 1024)", IntFlag("random-input-len", 1, 1 << 24, &input_len)},
      {"random-output-len", "N", "tokens to generate (default 128)", IntFlag("random-output-len", 1, 1 << 24, &output_len)},
      {"random-range-ratio", "R", "random lengths uniform in [len*(1-R), len*(1+R)] (default 0)",
       DoubleFlag("random-range-ratio", 0, 0.999, &range_ratio)},
      {"random-vocab-size", "N", "random token ids below N when there is no --tokenizer (default 256)",
       IntFlag("random-vocab-size", 1, 1 << 24, &vocab_size)},
      {"prompt-mode", "MODE", "random prompts as 'tokens' (token-id lists; default) or 'text' (random words)",
       StringFlag(&prompt_mode)},
      {"sharegpt-output-len", "N", "ShareGPT: generate N tokens instead of the answer's length",
       IntFlag("sharegpt-output-len", 1, 1 << 24, &sharegpt_output_len)},
      {"sharegpt-max-len", "N", "ShareGPT: skip conversations longer than N tokens in all (default 2048)",
       IntFlag("sharegpt-max-len", 8, 1 << 24, &sharegpt_max_len)},
      {"no-ignore-eos", "", "let requests stop at EOS (default: send ignore_eos so lengths are exact)",
       [&](std::string_view) { ignore_eos = false; return absl::OkStatus(); }},
      {"seed", "N", "seed of prompts and arrivals (default 0)", SeedFlag(&seed)},
      {"goodput", "NAME:MS", "SLO for goodput: ttft:MS, tpot:MS, e2el:MS (repeatable or space separated)",
       [&](std::string_view v) { return bench::AddGoodputSlo(v, &slo); }},
      {"metric-percentiles", "P,...", "percentiles to report (default 99)", StringFlag(&percentiles_text)},
      {"timeout", "SECONDS", "fail a request after this long without progress (default 300)",
       IntFlag("timeout", 1, 86400, &timeout)},
      {"ready-timeout", "SECONDS", "wait up to this long for the server to answer /v1/models (default 0)",
       IntFlag("ready-timeout", 0, 86400, &ready_timeout)},
      {"output-json", "FILE", "also write the results (and every request's numbers) as JSON", StringFlag(&output_json)},
  };
  bool help = false;
  std::vector<std::string> positional;
  Status s = ParseCli(argc, argv, 3, flags, nullptr, &positional, &help);
  if (help) {
    std::cout << CliHelp("pagellm bench serve --base-url http://127.0.0.1:8000 [--model NAME] [options]", flags, false);
    return 0;
  }
  // `--goodput ttft:500 tpot:50` (vLLM's spelling): the extra SLOs arrive as positionals.
  for (const std::string& p : positional) {
    if (!s.ok()) break;
    if (p.find(':') != std::string::npos) {
      s = bench::AddGoodputSlo(p, &slo);
    } else {
      s = InvalidArgument(StrCat("unexpected argument '", p, "'"));
    }
  }
  auto rate = bench::ParseRate(request_rate_text);
  if (s.ok() && !rate.ok()) s = rate.status();
  auto percentiles = bench::ParsePercentiles(percentiles_text);
  if (s.ok() && !percentiles.ok()) s = InvalidArgument(StrCat("--metric-percentiles: ", percentiles.status().message()));
  auto base = bench::ParseBaseUrl(base_url);
  if (s.ok() && !base.ok()) s = base.status();
  const bool chat = endpoint.find("chat/completions") != std::string::npos;
  if (s.ok() && (endpoint.empty() || endpoint[0] != '/')) s = InvalidArgument("--endpoint must start with '/'");
  if (s.ok() && dataset_name != "random" && dataset_name != "sharegpt") {
    s = InvalidArgument(StrCat("--dataset-name must be random or sharegpt, got '", dataset_name, "'"));
  }
  if (s.ok() && dataset_name == "sharegpt" && dataset_path.empty()) s = InvalidArgument("--dataset-name sharegpt needs --dataset-path FILE");
  if (prompt_mode.empty()) prompt_mode = chat ? "text" : "tokens";
  if (prompt_mode == "token") prompt_mode = "tokens";
  if (s.ok() && prompt_mode != "tokens" && prompt_mode != "text") {
    s = InvalidArgument(StrCat("--prompt-mode must be tokens or text, got '", prompt_mode, "'"));
  }
  if (s.ok() && chat && prompt_mode == "tokens") s = InvalidArgument("token-id prompts need /v1/completions (use --prompt-mode text)");
  if (!s.ok()) return Fail(s.message(), 2);
  if (api_key.empty()) {
    if (const char* k = std::getenv("OPENAI_API_KEY"); k != nullptr) api_key = k;
  }

  // Load the dataset and tokenizer before touching the server.
  std::unique_ptr<Tokenizer> tokenizer;
  if (tokenizer_path.empty() && !model.empty() && std::filesystem::exists(model)) tokenizer_path = model;
  if (!tokenizer_path.empty()) {
    auto t = LoadTokenizerFrom(tokenizer_path);
    if (!t.ok()) return Fail(t.status().message(), 2);
    tokenizer = std::move(*t);
  }
  std::vector<BenchRequest> requests;
  std::mt19937_64 rng(seed);
  if (dataset_name == "sharegpt") {
    if (tokenizer == nullptr) return Fail("--dataset-name sharegpt needs --tokenizer PATH to count tokens", 2);
    auto conversations = bench::LoadShareGpt(dataset_path);
    if (!conversations.ok()) return Fail(conversations.status().message(), 2);
    bench::TokenCounter count = [&](const std::string& text) -> StatusOr<int64_t> {
      ASSIGN_OR_RETURN(auto ids, tokenizer->Encode(text));
      return static_cast<int64_t>(ids.size());
    };
    auto sampled = bench::SampleShareGpt(*conversations, static_cast<size_t>(num_prompts), seed, count,
                                         sharegpt_max_len, sharegpt_output_len);
    if (!sampled.ok()) return Fail(StrCat(dataset_path, ": ", sampled.status().message()), 2);
    requests = std::move(*sampled);
  } else {
    const int64_t vocab = tokenizer ? tokenizer->vocab_size() : (vocab_size > 0 ? vocab_size : 256);
    const std::vector<int32_t> special = SpecialIds(tokenizer.get());
    const auto in_lens = bench::SampleLengths(num_prompts, input_len, range_ratio, rng);
    const auto out_lens = bench::SampleLengths(num_prompts, output_len, range_ratio, rng);
    for (int64_t i = 0; i < num_prompts; ++i) {
      BenchRequest r;
      if (prompt_mode == "tokens") {
        r.prompt_ids = bench::RandomTokenIds(in_lens[i], vocab, special, rng);
      } else {
        r.prompt_text = bench::RandomWords(in_lens[i], rng);
      }
      r.prompt_len = in_lens[i];
      r.output_len = out_lens[i];
      requests.push_back(std::move(r));
    }
  }

  // Is the server there? (Also finds the model name.)
  const auto ready_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(ready_timeout);
  StatusOr<bench::HttpResponse> models = Internal("unreached");
  for (;;) {
    models = bench::HttpGet(*base, "/v1/models", api_key, std::chrono::seconds(std::min<int64_t>(timeout, 30)));
    if (models.ok() && models->status == 200) break;
    if (std::chrono::steady_clock::now() >= ready_deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (!models.ok()) return Fail(StrCat("cannot reach the server: ", models.status().message()));
  if (models->status == 404 && !model.empty()) {
    std::fprintf(stderr, "[bench] note: the server has no /v1/models; sending model '%s'\n", model.c_str());
  } else if (models->status != 200) {
    return Fail(StrCat("GET ", base_url, "/v1/models: HTTP ", models->status, ": ", bench::ErrorMessageFromBody(models->body)));
  }
  if (model.empty()) {
    Json j = Json::parse(models->body, nullptr, false);
    if (!j.is_object() || !j.contains("data") || !j["data"].is_array() || j["data"].empty() ||
        !j["data"][0].is_object() || !j["data"][0].contains("id") || !j["data"][0]["id"].is_string()) {
      return Fail("the server's /v1/models lists no model; pass --model NAME");
    }
    model = j["data"][0]["id"].get<std::string>();
  }

  std::vector<std::string> bodies;
  std::vector<int64_t> planned;
  for (const BenchRequest& r : requests) {
    Json b = {{"model", model},
              {"max_tokens", r.output_len},
              {"temperature", 0},
              {"stream", true},
              {"stream_options", {{"include_usage", true}}}};
    if (ignore_eos) b["ignore_eos"] = true;
    if (chat) {
      b["messages"] = Json::array({{{"role", "user"}, {"content", r.prompt_text}}});
    } else if (!r.prompt_ids.empty()) {
      b["prompt"] = r.prompt_ids;
    } else {
      b["prompt"] = r.prompt_text;
    }
    bodies.push_back(b.dump());
    planned.push_back(r.prompt_len);
  }

  bench::ClientOptions options;
  options.base = *base;
  options.endpoint = endpoint;
  options.api_key = api_key;
  options.timeout = std::chrono::seconds(timeout);
  options.request_rate = *rate;
  options.burstiness = burstiness;
  options.max_concurrency = max_concurrency;
  options.seed = seed;
  std::fprintf(stderr, "[bench] %lld requests to %s%s (model %s), request rate %s, burstiness %g, max concurrency %s\n",
               static_cast<long long>(num_prompts), base_url.c_str(), endpoint.c_str(), model.c_str(),
               request_rate_text.c_str(), burstiness, max_concurrency > 0 ? std::to_string(max_concurrency).c_str() : "none");
  ProgressBar bar("bench serve", bodies.size(), "req");
  auto run = bench::RunStreamingRequests(options, bodies, planned, [&](size_t done) { bar.Update(done); });
  bar.Finish();
  if (!run.ok()) return Fail(run.status().message());
  const bench::ServeReport report = bench::ComputeServeReport(run->results, run->duration, slo, *percentiles);
  std::cout << bench::FormatServeReport(report, "Serving Benchmark Result");
  // Show why requests failed (the distinct reasons, with counts).
  std::vector<std::pair<std::string, int>> reasons;
  for (const bench::RequestResult& r : run->results) {
    if (r.success) continue;
    auto it = std::find_if(reasons.begin(), reasons.end(), [&](const auto& p) { return p.first == r.error; });
    if (it == reasons.end()) {
      reasons.emplace_back(r.error, 1);
    } else {
      ++it->second;
    }
  }
  for (size_t i = 0; i < reasons.size() && i < 5; ++i) {
    std::fprintf(stderr, "[bench] %d request(s) failed: %s\n", reasons[i].second, reasons[i].first.c_str());
  }
  if (!output_json.empty()) {
    Json j = bench::ServeReportJson(report);
    j["date"] = Now();
    j["backend"] = "openai";
    j["base_url"] = base_url;
    j["endpoint"] = endpoint;
    j["model_id"] = model;
    j["num_prompts"] = num_prompts;
    j["request_rate"] = std::isinf(*rate) ? Json("inf") : Json(*rate);
    j["burstiness"] = burstiness;
    j["max_concurrency"] = max_concurrency > 0 ? Json(max_concurrency) : Json(nullptr);
    j["dataset_name"] = dataset_name;
    Json input_lens = Json::array(), output_lens = Json::array(), ttfts = Json::array(), itls = Json::array(),
         errors = Json::array();
    for (const bench::RequestResult& r : run->results) {
      input_lens.push_back(r.prompt_tokens);
      output_lens.push_back(r.output_tokens);
      ttfts.push_back(r.ttft);
      itls.push_back(r.itl);
      errors.push_back(r.error);
    }
    j["input_lens"] = input_lens;
    j["output_lens"] = output_lens;
    j["ttfts"] = ttfts;
    j["itls"] = itls;
    j["errors"] = errors;
    if (Status w = WriteJson(output_json, j); !w.ok()) return Fail(w.message());
  }
  if (report.completed == 0) return Fail(StrCat("every request failed; the first: ", run->results[0].error));
  return 0;
}

}  // namespace

int BenchMain(int argc, char** argv) {
  const std::string_view sub = argc >= 3 ? argv[2] : "";
  if (sub == "latency") return LatencyMain(argc, argv);
  if (sub == "throughput") return ThroughputMain(argc, argv);
  if (sub == "serve") return ServeBenchMain(argc, argv);
  const bool help = sub == "--help" || sub == "-h" || sub == "help";
  std::fprintf(help ? stdout : stderr,
               "%susage: pagellm bench <latency|throughput|serve> [options]\n\n"
               "  latency      batch-1 prefill (ppN) and decode (tgN) tokens/s of a model\n"
               "  throughput   offline throughput: many requests through the engine at once\n"
               "  serve        load-test an OpenAI-compatible server (pagellm serve, vLLM, llama-server)\n\n"
               "`pagellm bench <sub> --help` lists its options.\n",
               help || sub.empty() ? "" : StrCat("pagellm bench: unknown subcommand '", sub, "'\n").c_str());
  return help ? 0 : 2;
}

}  // namespace pagellm
