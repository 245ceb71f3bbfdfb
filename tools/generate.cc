// `pagellm generate`: offline generation for prompts from arguments or a file, streamed to stdout.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "absl/strings/numbers.h"
#include "src/engine/engine_loop.h"
#include "tools/cli_args.h"
#include "tools/commands.h"

namespace pagellm {
namespace {

template <typename T>
std::function<Status(std::string_view)> Number(std::string_view flag, T* out) {
  return [flag, out](std::string_view v) -> Status {
    if constexpr (std::is_floating_point_v<T>) {
      double d = 0;
      if (!absl::SimpleAtod(ToAbsl(v), &d)) return InvalidArgument(StrCat("--", flag, " expects a number, got '", v, "'"));
      *out = static_cast<T>(d);
    } else {
      int64_t i = 0;
      if (!absl::SimpleAtoi(ToAbsl(v), &i)) return InvalidArgument(StrCat("--", flag, " expects an integer, got '", v, "'"));
      *out = static_cast<T>(i);
    }
    return absl::OkStatus();
  };
}

void PrintKvStats(const EngineStats& s, int64_t block_size) {
  std::fprintf(stderr,
               "[kv] %lld blocks x %lld tokens; peak %lld used; now %lld used, %lld shared; "
               "prefix cache hit %lld of %lld prompt tokens; %lld preemptions\n",
               static_cast<long long>(s.kv.num_blocks), static_cast<long long>(block_size),
               static_cast<long long>(s.kv.peak_used_blocks), static_cast<long long>(s.kv.used_blocks),
               static_cast<long long>(s.kv.shared_blocks), static_cast<long long>(s.kv.prefix_cache_hits),
               static_cast<long long>(s.kv.prefix_cache_queries), static_cast<long long>(s.num_preemptions));
}

}  // namespace

int GenerateMain(int argc, char** argv) {
  EngineConfig config;
  SamplingParams params;
  params.max_tokens = 256;
  std::vector<std::string> prompts;
  std::string prompts_file;
  int beam_width = 0;
  int best_of = 0;
  bool print_logprobs = false;
  const std::vector<CliFlag> flags = {
      {"prompt", "TEXT", "a prompt (repeatable; \"\" starts from BOS alone)",
       [&](std::string_view v) { prompts.emplace_back(v); return absl::OkStatus(); }},
      {"prompts-file", "FILE", "one prompt per line", [&](std::string_view v) { prompts_file = std::string(v); return absl::OkStatus(); }},
      {"max-tokens", "N", "tokens to generate per sequence (default 256)", Number("max-tokens", &params.max_tokens)},
      {"min-tokens", "N", "tokens before EOS or stop ids may end a sequence", Number("min-tokens", &params.min_tokens)},
      {"temperature", "T", "0 = greedy (default 1.0)", Number("temperature", &params.temperature)},
      {"top-p", "P", "nucleus sampling mass (0, 1]", Number("top-p", &params.top_p)},
      {"top-k", "K", "sample among the K most likely (0 = off)", Number("top-k", &params.top_k)},
      {"min-p", "P", "drop tokens below P x the top probability", Number("min-p", &params.min_p)},
      {"repetition-penalty", "R", "> 1 discourages repeats", Number("repetition-penalty", &params.repetition_penalty)},
      {"presence-penalty", "P", "[-2, 2]", Number("presence-penalty", &params.presence_penalty)},
      {"frequency-penalty", "P", "[-2, 2]", Number("frequency-penalty", &params.frequency_penalty)},
      {"seed", "N", "per-request seed (reproducible sampling)",
       [&](std::string_view v) -> Status {
         uint64_t s = 0;
         if (!absl::SimpleAtoi(ToAbsl(v), &s)) return InvalidArgument(StrCat("--seed expects a non-negative integer, got '", v, "'"));
         params.seed = s;
         return absl::OkStatus();
       }},
      {"n", "N", "sequences per prompt", Number("n", &params.n)},
      {"best-of", "N", "generate N, return the n with the best cumulative logprob", Number("best-of", &best_of)},
      {"beam-width", "W", "beam search with W beams (temperature must be 0)", Number("beam-width", &beam_width)},
      {"length-penalty", "L", "beam search: score = logprob / length^L", Number("length-penalty", &params.length_penalty)},
      {"stop", "TEXT", "stop string (repeatable)", [&](std::string_view v) { params.stop.emplace_back(v); return absl::OkStatus(); }},
      {"stop-token-id", "ID", "stop token id (repeatable)",
       [&](std::string_view v) -> Status {
         int32_t id = 0;
         if (!absl::SimpleAtoi(ToAbsl(v), &id)) return InvalidArgument(StrCat("--stop-token-id expects an integer, got '", v, "'"));
         params.stop_token_ids.push_back(id);
         return absl::OkStatus();
       }},
      {"ignore-eos", "", "keep generating after EOS", [&](std::string_view) { params.ignore_eos = true; return absl::OkStatus(); }},
      {"logprobs", "K", "print the top-K logprobs of each generated token",
       [&](std::string_view v) -> Status {
         int k = 0;
         RETURN_IF_ERROR(Number("logprobs", &k)(v));
         params.logprobs = k;
         print_logprobs = true;
         return absl::OkStatus();
       }},
  };
  // "-n 4" works like "--n 4".
  std::vector<std::string> rewritten;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    rewritten.emplace_back(std::string_view(argv[i]) == "-n" ? "--n" : argv[i]);
  }
  for (auto& s : rewritten) args.push_back(s.data());
  bool help = false;
  Status s = ParseCli(argc, args.data(), 2, flags, &config, nullptr, &help);
  if (help) {
    std::cout << CliHelp("pagellm generate [--model MODEL] --prompt TEXT [options]", flags, true);
    return 0;
  }
  if (!s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 2;
  }
  if (best_of > 0) params.best_of = best_of;
  if (beam_width > 0) {
    params.use_beam_search = true;
    params.best_of = std::max(beam_width, params.n);
    params.temperature = 0;
  }
  if (!prompts_file.empty()) {
    std::ifstream in(prompts_file);
    if (!in) {
      std::cerr << "error: cannot read " << prompts_file << "\n";
      return 2;
    }
    for (std::string line; std::getline(in, line);) prompts.push_back(line);
  }
  if (prompts.empty()) prompts.push_back("");
  if (auto m = ResolveModelPath(config.model); m.ok()) {
    config.model = *m;
  } else {
    std::cerr << "error: " << m.status().message() << "\n";
    return 2;
  }

  std::fprintf(stderr, "[generate] loading %s\n", config.model.c_str());
  auto engine = Engine::Create(config);
  if (!engine.ok()) {
    std::cerr << "error: " << engine.status().message() << "\n";
    return 1;
  }
  const Tokenizer* tokenizer = (*engine)->tokenizer();
  const int64_t block_size = config.block_size;
  EngineLoop loop(std::move(*engine));

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::shared_ptr<OutputStream>> streams;
  int64_t prompt_tokens = 0;
  const bool stream_text = prompts.size() == 1 && params.n == 1 && !params.use_beam_search && !params.best_of;
  for (size_t i = 0; i < prompts.size(); ++i) {
    EngineRequest req;
    req.request_id = StrCat("generate-", i);
    auto ids = tokenizer->Encode(prompts[i], {.add_special = true, .parse_special = false});
    if (!ids.ok()) {
      std::cerr << "error: prompt " << i << ": " << ids.status().message() << "\n";
      return 1;
    }
    req.prompt_token_ids = std::move(*ids);
    prompt_tokens += static_cast<int64_t>(req.prompt_token_ids.size());
    if (params.max_tokens + static_cast<int64_t>(req.prompt_token_ids.size()) > loop.engine().max_model_len()) {
      // Like llama.cpp's CLI: generate up to the context length instead of refusing.
      params.max_tokens = std::max<int>(1, static_cast<int>(loop.engine().max_model_len() - req.prompt_token_ids.size()));
    }
    req.params = params;
    req.stream = stream_text;
    auto stream = loop.Submit(std::move(req));
    if (!stream.ok()) {
      std::cerr << "error: prompt " << i << ": " << stream.status().message() << "\n";
      return 1;
    }
    streams.push_back(*stream);
  }
  int64_t generated = 0;
  for (size_t i = 0; i < streams.size(); ++i) {
    while (auto o = streams[i]->Next()) {
      if (stream_text) {
        std::fwrite(o->outputs[0].delta_text.data(), 1, o->outputs[0].delta_text.size(), stdout);
        std::fflush(stdout);
      }
      if (!o->finished) continue;
      for (const CompletionOutput& c : o->outputs) {
        generated += static_cast<int64_t>(c.token_ids.size());
        if (!stream_text) {
          std::printf("--- prompt %zu, sequence %d (%s) ---\n%s%s\n", i, c.index,
                      std::string(FinishReasonName(c.finish_reason)).c_str(), prompts[i].c_str(), c.text.c_str());
        } else {
          std::printf("\n");
        }
        if (print_logprobs) {
          for (size_t t = 0; t < c.logprobs.size(); ++t) {
            const auto& lp = c.logprobs[t];
            std::printf("  [%zu] %d %.4f:", t, lp.chosen.token, lp.chosen.logprob);
            for (const auto& alt : lp.top) std::printf(" %d=%.4f", alt.token, alt.logprob);
            std::printf("\n");
          }
        }
        if (c.cumulative_logprob) std::printf("  cumulative logprob %.4f\n", *c.cumulative_logprob);
      }
    }
    if (!streams[i]->status().ok()) {
      std::cerr << "error: " << streams[i]->status().message() << "\n";
      return 1;
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "[generate] %lld prompt + %lld generated tokens in %.3f s: %.1f tokens/s generated\n",
               static_cast<long long>(prompt_tokens), static_cast<long long>(generated), secs,
               secs > 0 ? generated / secs : 0.0);
  PrintKvStats(loop.Snapshot().stats, block_size);
  return 0;
}

}  // namespace pagellm
