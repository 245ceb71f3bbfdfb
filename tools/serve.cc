// `pagellm serve MODEL`: the OpenAI-compatible HTTP server. The port opens at once (/health says
// 503 while the model loads); SIGTERM / SIGINT drain in-flight requests up to --shutdown-timeout,
// then abort the rest (finish_reason "abort") and exit 0.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "absl/strings/numbers.h"
#include "src/base/mapped_file.h"
#include "src/server/api_server.h"
#include "tools/cli_args.h"
#include "tools/commands.h"

namespace pagellm {
namespace {

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

}  // namespace

int ServeMain(int argc, char** argv) {
  // Signals are taken by sigwait below; block them before any thread starts so none inherits them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);  // internal: the model failed to load
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  EngineConfig config;
  http::ServerOptions http_options;
  server::ApiServerOptions api_options;
  std::string chat_template_file;
  int64_t port = 8000, shutdown_timeout = 30, max_body_mb = 32, max_total_body_mb = 256, max_connections = 1024,
          read_timeout = 30;
  const std::vector<CliFlag> flags = {
      {"host", "ADDR", "address to listen on (default 127.0.0.1)",
       [&](std::string_view v) { http_options.host = std::string(v); return absl::OkStatus(); }},
      {"port", "N", "port (default 8000; 0 picks a free one)", IntFlag("port", 0, 65535, &port)},
      {"api-key", "KEY", "require 'Authorization: Bearer KEY' (also $PAGELLM_API_KEY / $VLLM_API_KEY)",
       [&](std::string_view v) { api_options.api_key = std::string(v); return absl::OkStatus(); }},
      {"chat-template", "FILE", "Jinja chat template to use instead of the model's",
       [&](std::string_view v) { chat_template_file = std::string(v); return absl::OkStatus(); }},
      {"shutdown-timeout", "SECONDS", "on SIGTERM, how long in-flight requests may finish (default 30)",
       IntFlag("shutdown-timeout", 0, 86400, &shutdown_timeout)},
      {"max-body-mb", "N", "largest request body in MiB (default 32)", IntFlag("max-body-mb", 1, 4096, &max_body_mb)},
      {"max-total-body-mb", "N", "request bodies held at once in MiB; beyond: 503 + Retry-After (default 256)",
       IntFlag("max-total-body-mb", 1, 1 << 20, &max_total_body_mb)},
      {"max-connections", "N", "open connections at most (default 1024)", IntFlag("max-connections", 1, 1 << 20, &max_connections)},
      {"read-timeout", "SECONDS", "cut off clients that send a request slower than this (default 30)",
       IntFlag("read-timeout", 1, 3600, &read_timeout)},
  };
  bool help = false;
  std::vector<std::string> positional;
  Status s = ParseCli(argc, argv, 2, flags, &config, &positional, &help);
  if (help) {
    std::cout << CliHelp("pagellm serve [MODEL] [options]", flags, true);
    return 0;
  }
  if (s.ok() && positional.size() > 1) s = InvalidArgument("serve takes one MODEL argument");
  if (!s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 2;
  }
  if (!positional.empty()) config.model = positional[0];
  auto model = ResolveModelPath(config.model);
  if (!model.ok()) {
    std::cerr << "error: " << model.status().message() << "\n";
    return 2;
  }
  config.model = *model;
  if (api_options.api_key.empty()) {
    for (const char* env : {"PAGELLM_API_KEY", "VLLM_API_KEY"}) {
      if (const char* k = std::getenv(env); k != nullptr && *k != '\0') {
        api_options.api_key = k;
        break;
      }
    }
  }
  if (!chat_template_file.empty()) {
    auto text = ReadFileToString(chat_template_file, 1 << 20);
    if (!text.ok()) {
      std::cerr << "error: --chat-template: " << text.status().message() << "\n";
      return 2;
    }
    api_options.chat_template = std::move(*text);
  }
  api_options.served_model_name = config.DisplayName();
  api_options.model_path = config.model;
  http_options.port = static_cast<int>(port);
  http_options.max_body_bytes = static_cast<size_t>(max_body_mb) << 20;
  http_options.max_total_body_bytes = static_cast<size_t>(std::max(max_total_body_mb, max_body_mb)) << 20;
  http_options.max_connections = static_cast<int>(max_connections);
  http_options.read_timeout = std::chrono::seconds(read_timeout);

  server::ApiServer api(api_options);
  auto http_server = http::Server::Start(
      http_options, [&api](http::Request r, std::shared_ptr<http::ResponseWriter> w) { api.Handle(std::move(r), std::move(w)); });
  if (!http_server.ok()) {
    std::cerr << "error: " << http_server.status().message() << "\n";
    return 1;
  }
  std::fprintf(stderr, "[serve] listening on http://%s:%d (model %s loading)\n", http_options.host.c_str(),
               (*http_server)->port(), api_options.served_model_name.c_str());

  std::atomic<bool> load_failed{false};
  std::thread loader([&] {
    auto engine = Engine::Create(config);
    Status st = engine.ok() ? api.SetEngine(std::make_unique<EngineLoop>(std::move(*engine))) : engine.status();
    if (!st.ok()) {
      std::fprintf(stderr, "[serve] error: %s\n", std::string(st.message()).c_str());
      load_failed.store(true);
      kill(getpid(), SIGUSR1);
      return;
    }
    std::fprintf(stderr, "[serve] ready: %s (context %lld tokens, %lld KV blocks of %lld)\n",
                 api_options.served_model_name.c_str(), static_cast<long long>(api.loop()->engine().max_model_len()),
                 static_cast<long long>(api.loop()->engine().num_kv_blocks()), static_cast<long long>(config.block_size));
  });

  int sig = 0;
  sigwait(&signals, &sig);
  loader.join();
  if (load_failed.load()) {
    (*http_server)->Shutdown(std::chrono::milliseconds(0));
    return 1;
  }
  std::fprintf(stderr, "[serve] %s: draining (up to %llds)\n", sig == SIGINT ? "SIGINT" : "SIGTERM",
               static_cast<long long>(shutdown_timeout));
  api.SetDraining();
  (*http_server)->StopAccepting();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(shutdown_timeout);
  while ((*http_server)->in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Whatever still runs is aborted: its clients get finish_reason "abort" and [DONE].
  if (EngineLoop* loop = api.loop()) loop->Shutdown();
  (*http_server)->Shutdown(std::chrono::milliseconds(2000));
  std::fprintf(stderr, "[serve] stopped\n");
  return 0;
}

}  // namespace pagellm
