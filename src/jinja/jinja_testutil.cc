// Test helpers: render shortcuts, locating a python3 with jinja2, batch reference rendering.
#include "src/jinja/jinja_testutil.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "src/testing/testing.h"

namespace pagellm::jinja::testing {

std::filesystem::path TestdataDir() {
  return std::filesystem::path(__FILE__).parent_path() / "testdata";
}

StatusOr<std::string> RenderText(std::string_view source, std::string_view context_json,
                                 const RenderOptions& options) {
  ASSIGN_OR_RETURN(Template t, Template::Parse(source));
  nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
  if (!context_json.empty()) {
    ctx = nlohmann::ordered_json::parse(context_json, nullptr, /*allow_exceptions=*/false);
    if (ctx.is_discarded()) return InvalidArgument("bad test context JSON");
  }
  return t.Render(ctx, options);
}

std::string RenderOk(std::string_view source, std::string_view context_json,
                     const RenderOptions& options) {
  auto r = RenderText(source, context_json, options);
  EXPECT_TRUE(r.ok()) << "template: " << source << "\nerror: " << r.status();
  return r.ok() ? *r : StrCat("<error: ", r.status().message(), ">");
}

std::string RenderError(std::string_view source, std::string_view context_json,
                        const RenderOptions& options) {
  auto r = RenderText(source, context_json, options);
  EXPECT_FALSE(r.ok()) << "template: " << source << "\nunexpected output: " << (r.ok() ? *r : "");
  return r.ok() ? std::string() : std::string(r.status().message());
}

namespace {

// Runs argv with stdin from `in_path`, stdout to `out_path`; returns the exit status.
int RunToFile(const std::vector<std::string>& argv, const std::string& in_path,
              const std::string& out_path) {
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (!freopen(in_path.c_str(), "r", stdin) || !freopen(out_path.c_str(), "w", stdout)) _exit(126);
    if (!freopen("/dev/null", "w", stderr)) _exit(126);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

std::optional<std::string> FindPythonWithJinja(std::string* why) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("PAGELLM_PYTHON"); env != nullptr && *env != '\0') {
    candidates.push_back(env);
  }
  candidates.push_back("/usr/bin/python3");
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
      if (!dir.empty()) candidates.push_back(dir + "/python3");
    }
  }
  pagellm::testing::TempDir tmp;
  const std::string empty = (tmp / "empty").string();
  std::ofstream(empty).close();
  const std::string out = (tmp / "out").string();
  std::string tried;
  for (const std::string& py : candidates) {
    std::error_code ec;
    if (!std::filesystem::exists(py, ec)) continue;
    tried += " " + py;
    const int rc = RunToFile({py, "-c",
                              "import jinja2, sys; v = tuple(int(x) for x in "
                              "jinja2.__version__.split('.')[:2]); sys.exit(0 if v >= (3, 1) else 3)"},
                             empty, out);
    if (rc == 0) return py;
  }
  *why = tried.empty() ? "no python3 found" : StrCat("no python3 with jinja2 >= 3.1 among:", tried);
  return std::nullopt;
}

StatusOr<std::vector<ReferenceResult>> RenderWithJinja2(const std::string& python,
                                                        const std::vector<ReferenceCase>& cases) {
  pagellm::testing::TempDir tmp;
  const std::string in_path = (tmp / "cases.jsonl").string();
  const std::string out_path = (tmp / "results.jsonl").string();
  {
    std::ofstream in(in_path, std::ios::binary);
    for (const auto& c : cases) {
      nlohmann::ordered_json line = {{"template", c.template_source}, {"context", c.context}};
      if (c.now) line["now"] = *c.now;
      in << line.dump() << "\n";
    }
  }
  const std::string script = (TestdataDir() / "hf_render.py").string();
  const int rc = RunToFile({python, script, "--batch"}, in_path, out_path);
  if (rc != 0) return Internal(StrCat("hf_render.py exited with status ", rc));
  std::vector<ReferenceResult> results;
  std::stringstream ss(ReadFile(out_path));
  std::string line;
  while (std::getline(ss, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) return Internal("hf_render.py printed invalid JSON");
    ReferenceResult r;
    r.ok = j.value("ok", false);
    r.output = r.ok ? j.value("output", "") : j.value("error", "");
    results.push_back(std::move(r));
  }
  if (results.size() != cases.size()) {
    return Internal(StrCat("hf_render.py returned ", results.size(), " results for ", cases.size(), " cases"));
  }
  return results;
}

ReferenceResult RenderWithPagellm(const ReferenceCase& c) {
  ReferenceResult r;
  auto t = Template::Parse(c.template_source);
  if (!t.ok()) {
    r.output = std::string(t.status().message());
    return r;
  }
  RenderOptions options;
  if (c.now) {
    const auto tp = std::chrono::system_clock::time_point(std::chrono::seconds(*c.now));
    options.now = [tp] { return tp; };
  }
  auto s = t->Render(c.context, options);
  if (!s.ok()) {
    r.output = std::string(s.status().message());
    return r;
  }
  r.ok = true;
  r.output = std::move(*s);
  return r;
}

}  // namespace pagellm::jinja::testing
