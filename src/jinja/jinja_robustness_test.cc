// Robustness: malformed and hostile templates (deep nesting, huge ranges and strings, runaway
// loops and recursion, self-referencing values, random mutations) end in an error Status, never
// a crash, hang or unbounded memory. Run under ASan/UBSan as well.
#include <pthread.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/jinja/chat_template.h"
#include "src/jinja/jinja_testutil.h"

namespace pagellm::jinja::testing {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;

std::string Repeat(std::string_view s, int n) {
  std::string out;
  out.reserve(s.size() * static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(JinjaRobustness, MalformedTemplatesAreErrors) {
  const char* const kBad[] = {
      "{{",          "{{ }}",        "{%",           "{% %}",       "{% if %}{% endif %}",
      "{% for x in %}{% endfor %}", "{% for in x %}{% endfor %}", "{% endif %}",
      "{{ 1 +* 2 }}", "{{ [1, 2 }}", "{{ {1: } }}", "{{ f(,) }}",   "{{ x.1.2.a. }}",
      "{{ 'a' | }}", "{{ x is }}",   "{% set %}",    "{% set x = %}", "{% macro %}{% endmacro %}",
      "{% macro m( %}{% endmacro %}", "{% call %}{% endcall %}", "{% filter %}{% endfilter %}",
      "{% with a %}{% endwith %}", "{{ a[::::] }}", "{{ \"\\x4 \" }}", "{{ '\\ud800' }}",
      "{{ 99999999999999999999 }}", "{% for x in y %}{% else %}{% else %}{% endfor %}",
      "{{ a if }}", "{{ not }}",    "{{ -- }}",     "{{ () () }}", "{% raw %}", "{#",
      "{{ x }}}}{{",  "}}{% endraw %}",
  };
  for (const char* t : kBad) {
    auto r = RenderText(t);
    EXPECT_FALSE(r.ok()) << "accepted: " << t;
  }
}

TEST(JinjaRobustness, DeepNestingIsRejectedNotAStackOverflow) {
  const int n = 10000;
  const std::vector<std::string> deep = {
      "{{ " + Repeat("(", n) + "1" + Repeat(")", n) + " }}",
      "{{ " + Repeat("[", n) + Repeat("]", n) + " }}",
      "{{ " + Repeat("{'a': ", n) + "1" + Repeat("}", n) + " }}",
      "{{ " + Repeat("-", n) + "1 }}",
      "{{ " + Repeat("not ", n) + "1 }}",
      "{{ 1" + Repeat(" + 1", n) + " }}",
      "{{ x" + Repeat("|upper", n) + " }}",
      "{{ x" + Repeat(".a", n) + " }}",
      "{{ x" + Repeat("[0]", n) + " }}",
      "{{ f" + Repeat("()", n) + " }}",
      "{{ 1" + Repeat(" if 1 else 1", n) + " }}",
      "{{ 1 is" + Repeat(" not", 1) + Repeat(" defined and 1 is defined", n) + " }}",
      Repeat("{% if true %}", n) + Repeat("{% endif %}", n),
      Repeat("{% for i in [1] %}", n) + Repeat("{% endfor %}", n),
      Repeat("{% macro m() %}", n) + Repeat("{% endmacro %}", n),
      "{% set " + Repeat("(", n) + "a" + Repeat(")", n) + " = 1 %}",
  };
  for (const std::string& t : deep) {
    auto parsed = Template::Parse(t);
    EXPECT_FALSE(parsed.ok()) << t.substr(0, 60);
    if (!parsed.ok()) {
      EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("nesting"));
    }
  }
  // Flat repetition is fine however long.
  EXPECT_EQ(RenderOk("{{ 'a'" + Repeat(" ~ 'a'", n - 1) + " }}").size(), static_cast<size_t>(n));
  EXPECT_EQ(RenderOk(Repeat("{% if true %}x{% endif %}", n)).size(), static_cast<size_t>(n));
}

// Renders `source` on a fresh thread whose stack is `stack_bytes` large.
StatusOr<std::string> RenderOnThreadWithStack(const std::string& source, size_t stack_bytes) {
  StatusOr<std::string> result = InvalidArgument("the render thread did not start");
  struct Job {
    const std::string* source;
    StatusOr<std::string>* result;
  } job{&source, &result};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, stack_bytes);
  pthread_t thread;
  if (pthread_create(&thread, &attr, [](void* p) -> void* {
        auto* j = static_cast<Job*>(p);
        *j->result = RenderText(*j->source);
        return nullptr;
      }, &job) == 0) {
    pthread_join(thread, nullptr);
  } else {
    ADD_FAILURE() << "pthread_create failed";
  }
  pthread_attr_destroy(&attr);
  return result;
}

// The deepest templates the limits allow run in a 4 MB stack, even with sanitizers: nesting is
// capped by max_eval_depth and by a check of the thread's remaining stack (release builds need
// under 1 MB for max_eval_depth = 1000).
TEST(JinjaRobustness, DeepestAllowedTemplateFitsInASmallStack) {
  // The recursive call sits at the bottom of a 120-deep expression, so every level of the
  // recursion keeps the whole expression on the stack.
  const std::string expr = Repeat("(", 120) + "f(n + 1)" + Repeat(" ~ '')", 120);
  const std::string source = "{% macro f(n) %}{% if n < 63 %}{{ " + expr + " }}{% else %}{{ n }}{% endif %}"
                             "{% endmacro %}{{ f(0) }}|" + Repeat("{% if true %}", 200) + "x" +
                             Repeat("{% endif %}", 200);
  const StatusOr<std::string> result = RenderOnThreadWithStack(source, size_t{4} << 20);
  // 63 nested calls each evaluating a 120-deep expression exceed max_eval_depth: a clean error.
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted) << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("nested too deeply"));
  // With shallow expressions the same recursion renders.
  EXPECT_EQ(RenderOk("{% macro f(n) %}{% if n < 63 %}{{ f(n + 1) }}{% else %}{{ n }}{% endif %}{% endmacro %}{{ f(0) }}"),
            "63");
}

// On a tiny stack the same templates fail cleanly instead of overflowing.
TEST(JinjaRobustness, TinyStackFailsCleanly) {
  const std::string source = "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}" +
                             Repeat("{% if true %}", 250) + Repeat("{% endif %}", 250);
  const StatusOr<std::string> result = RenderOnThreadWithStack(source, size_t{128} << 10);
  EXPECT_FALSE(result.ok());
}

TEST(JinjaRobustness, ResourceLimits) {
  EXPECT_THAT(RenderError("{{ range(10**9)|length }}"), HasSubstr("Range too big"));
  EXPECT_THAT(RenderError("{{ 'x' * 10**9 }}"), HasSubstr("over the limit"));
  EXPECT_THAT(RenderError("{{ [0] * 10**9 }}"), HasSubstr("steps"));
  EXPECT_THAT(RenderError("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}"),
              HasSubstr("rendered output exceeds the limit"));
  EXPECT_THAT(RenderError("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"),
              AnyOf(HasSubstr("exceeded the limit of 10000000 steps"), HasSubstr("list and dict elements")));
  EXPECT_THAT(RenderError("{% set l = range(1000)|list %}{% for i in range(100000) %}{% for j in l %}{% endfor %}{% endfor %}"),
              HasSubstr("exceeded the limit of 10000000 steps"));
  EXPECT_THAT(RenderError("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"), HasSubstr("macro calls nested deeper"));
  EXPECT_THAT(RenderError("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"),
              HasSubstr("over the limit"));
  EXPECT_THAT(RenderError("{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}"),
              HasSubstr("list and dict elements"));
  // A list that shares itself: tiny to build, exponential to print or compare, so refused.
  EXPECT_THAT(RenderError("{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}"
                          "{{ ns.l == ns.l }}"),
              HasSubstr("nested elements"));
  EXPECT_THAT(RenderError("{{ '%999999999s' % 'x' }}"), HasSubstr("too large"));
  EXPECT_THAT(RenderError("{{ 'x'|center(999999999) }}"), HasSubstr("over the limit"));
  EXPECT_THAT(RenderError("{{ 2 ** 100 }}"), HasSubstr("integer overflow"));

  RenderOptions small;
  small.limits.max_output_bytes = 10;
  EXPECT_THAT(RenderError("{{ 'x' * 11 }}", "", small), HasSubstr("over the limit"));
  EXPECT_EQ(RenderOk("{{ 'x' * 10 }}", "", small), "xxxxxxxxxx");
  small.limits.max_steps = 50;
  EXPECT_THAT(RenderError("{% for i in range(100) %}{% endfor %}", "", small), HasSubstr("steps"));
}

TEST(JinjaRobustness, LimitErrorsAreResourceExhausted) {
  auto t = Template::Parse("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}");
  ASSERT_TRUE(t.ok());
  const auto start = std::chrono::steady_clock::now();
  auto r = t->Render(nlohmann::ordered_json::object());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

TEST(JinjaRobustness, SelfReferenceAndDeepValues) {
  // A namespace holding itself prints with "..." past a depth and cannot be serialized.
  const std::string printed = RenderOk("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}");
  EXPECT_THAT(printed, HasSubstr("<Namespace {'me': <Namespace {'me': "));
  EXPECT_THAT(printed, HasSubstr("..."));
  EXPECT_THAT(RenderError("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns|tojson }}"),
              HasSubstr("not JSON serializable"));
  // Values nested 50000 deep: printing, comparing, hashing and JSON stop at a depth limit.
  const char* deep =
      "{% set ns = namespace(x=(1,)) %}{% for i in range(50000) %}{% set ns.x = (ns.x,) %}{% endfor %}";
  EXPECT_THAT(RenderOk(std::string(deep) + "{{ ns.x|string|length > 0 }} {{ ns.x == ns.x }}"), HasSubstr("True"));
  EXPECT_THAT(RenderError(std::string(deep) + "{{ ns.x|tojson }}"), HasSubstr("Circular reference"));
  // Hashing such a key may be refused (too deep to hash); it must not crash.
  EXPECT_FALSE(RenderText(std::string(deep) + "{{ {ns.x: 1}|length }}").ok());
}

TEST(JinjaRobustness, HostileContextJson) {
  auto t = ChatTemplate::Parse("{{ messages|tojson }}");
  ASSERT_TRUE(t.ok());
  const auto deep = nlohmann::ordered_json::parse(Repeat("{\"c\": ", 5000) + "1" + Repeat("}", 5000));
  auto r = t->RenderChat(nlohmann::ordered_json::array({deep}), false);
  EXPECT_FALSE(r.ok());
}

// Random byte- and token-level mutations of real templates: any outcome but a crash is fine.
TEST(JinjaRobustness, MutatedTemplatesNeverCrash) {
  std::vector<std::string> seeds = FeatureSnippets();
  for (const auto& entry : std::filesystem::directory_iterator(TestdataDir() / "templates")) {
    std::ifstream f(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    seeds.push_back(ss.str());
  }
  const char* const kPieces[] = {"{{", "}}", "{%", "%}", "{#", "#}", "-", "+", "(", ")", "[", "]", "{",
                                 "}", "'", "\"", "|", ".", ",", ":", "\\", "\n", "endfor", "endif",
                                 "loop", "range(", "**", "ns.", " is ", " in ", "\xC3\xA9", "\xFF"};
  const auto context = nlohmann::ordered_json::parse(SnippetContext());
  std::mt19937 rng(1234);
  int rendered = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    std::string t = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !t.empty(); ++e) {
      const size_t pos = rng() % t.size();
      switch (rng() % 3) {
        case 0: t.erase(pos, 1 + rng() % 8); break;
        case 1: t.insert(pos, kPieces[rng() % std::size(kPieces)]); break;
        default: t[pos] = static_cast<char>(rng() % 128); break;
      }
    }
    auto parsed = Template::Parse(t);
    if (!parsed.ok()) continue;
    RenderOptions options;
    options.limits.max_steps = 200000;
    auto r = parsed->Render(context, options);
    rendered += r.ok();
  }
  EXPECT_GT(rendered, 100);  // the mutations still exercise the evaluator
}

}  // namespace
}  // namespace pagellm::jinja::testing
