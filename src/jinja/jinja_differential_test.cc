// Differential tests: pagellm's Jinja interpreter against Python's jinja2 configured as Hugging
// Face transformers does (testdata/hf_render.py), byte for byte; expected errors must error in
// both. Skipped with a message when no python3 with jinja2 >= 3.1 is available.
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <sstream>

#include "gtest/gtest.h"
#include "src/jinja/chat_template.h"
#include "src/jinja/jinja_testutil.h"
#include "src/testing/testing.h"

namespace pagellm::jinja::testing {
namespace {

constexpr int64_t kFixedNow = 1721995200;  // 2024-07-26 12:00:00 UTC

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string Shorten(std::string s, size_t n = 300) {
  if (s.size() > n) s = s.substr(0, n) + "...";
  return s;
}

class Jinja2Differential : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    python_ = new std::optional<std::string>(FindPythonWithJinja(&why_));
  }
  static void TearDownTestSuite() {
    delete python_;
    python_ = nullptr;
  }
  void SetUp() override {
    if (!*python_) {
      GTEST_SKIP() << "differential tests against jinja2 skipped: " << why_
                   << " (install python3-jinja2 or set PAGELLM_PYTHON)";
    }
  }

  // Renders every case with jinja2 and with pagellm (`ours(i)`), expecting identical output, or
  // an error in both. Integer overflow (pagellm is 64-bit, Python is not) is counted apart.
  void ExpectSame(const std::string& what, const std::vector<std::string>& names,
                  const std::vector<ReferenceCase>& cases,
                  const std::function<ReferenceResult(size_t)>& ours) {
    auto reference = RenderWithJinja2(**python_, cases);
    ASSERT_TRUE(reference.ok()) << reference.status();
    size_t same = 0, both_error = 0, overflow = 0;
    for (size_t i = 0; i < cases.size(); ++i) {
      const ReferenceResult& want = (*reference)[i];
      const ReferenceResult got = ours(i);
      if (!got.ok && got.output.find("integer overflow") != std::string::npos && want.ok) {
        ++overflow;
        continue;
      }
      if (want.ok == got.ok && (!want.ok || want.output == got.output)) {
        ++same;
        both_error += !want.ok;
        continue;
      }
      ADD_FAILURE() << what << " case '" << names[i] << "' differs\n  template: "
                    << Shorten(cases[i].template_source) << "\n  context: "
                    << Shorten(cases[i].context.dump()) << "\n  jinja2 "
                    << (want.ok ? "output: " : "error: ") << Shorten(want.output, 2000)
                    << "\n  pagellm " << (got.ok ? "output: " : "error: ") << Shorten(got.output, 2000);
    }
    std::cout << "[differential] " << what << ": " << same << "/" << cases.size()
              << " identical (" << both_error << " error in both";
    if (overflow) std::cout << ", " << overflow << " skipped for 64-bit integer overflow";
    std::cout << ")" << std::endl;
    RecordProperty(what + "_identical", static_cast<int>(same));
    RecordProperty(what + "_total", static_cast<int>(cases.size()));
  }

  // Chat cases: every template x conversation x add_generation_prompt, rendered by pagellm
  // through ChatTemplate::RenderChat and by jinja2 from the equivalent HF context.
  void ExpectSameChats(const std::string& what,
                       const std::vector<std::pair<std::string, std::string>>& templates,
                       const std::vector<SpecialTokens>& tokens) {
    const auto data = nlohmann::ordered_json::parse(ReadFile(TestdataDir() / "conversations.json"));
    std::vector<std::string> names;
    std::vector<ReferenceCase> cases;
    struct Ours {
      size_t template_index;
      nlohmann::ordered_json messages, extra;
      bool add_generation_prompt;
    };
    std::vector<Ours> ours;
    for (size_t t = 0; t < templates.size(); ++t) {
      for (const auto& conv : data["conversations"]) {
        for (bool agp : {false, true}) {
          nlohmann::ordered_json extra = conv.value("extra", nlohmann::ordered_json::object());
          if (conv.value("use_tools", false)) extra["tools"] = data["tools"];
          ReferenceCase c;
          c.template_source = templates[t].second;
          c.now = kFixedNow;
          c.context["messages"] = conv["messages"];
          c.context["tools"] = nullptr;
          c.context["documents"] = nullptr;
          c.context["add_generation_prompt"] = agp;
          if (tokens[t].bos_token) c.context["bos_token"] = *tokens[t].bos_token;
          if (tokens[t].eos_token) c.context["eos_token"] = *tokens[t].eos_token;
          for (auto it = extra.begin(); it != extra.end(); ++it) c.context[it.key()] = it.value();
          names.push_back(StrCat(templates[t].first, "/", conv["name"].get<std::string>(),
                                 agp ? "/gen" : "/nogen"));
          cases.push_back(std::move(c));
          ours.push_back({t, conv["messages"], extra, agp});
        }
      }
    }
    std::vector<std::optional<ChatTemplate>> parsed;
    for (const auto& [name, source] : templates) {
      auto t = ChatTemplate::Parse(source);
      EXPECT_TRUE(t.ok()) << name << ": " << t.status();
      parsed.push_back(t.ok() ? std::optional<ChatTemplate>(std::move(*t)) : std::nullopt);
      if (parsed.back()) {
        RenderOptions options;
        const auto tp = std::chrono::system_clock::time_point(std::chrono::seconds(kFixedNow));
        options.now = [tp] { return tp; };
        parsed.back()->set_render_options(options);
      }
    }
    ExpectSame(what, names, cases, [&](size_t i) {
      ReferenceResult r;
      const Ours& o = ours[i];
      if (!parsed[o.template_index]) return r;
      auto s = parsed[o.template_index]->RenderChat(o.messages, o.add_generation_prompt,
                                                    tokens[o.template_index], o.extra);
      r.ok = s.ok();
      r.output = s.ok() ? *s : std::string(s.status().message());
      return r;
    });
  }

  static std::optional<std::string>* python_;
  static std::string why_;
};

std::optional<std::string>* Jinja2Differential::python_ = nullptr;
std::string Jinja2Differential::why_;

TEST_F(Jinja2Differential, FeatureSnippets) {
  const auto context = nlohmann::ordered_json::parse(SnippetContext());
  std::vector<std::string> names;
  std::vector<ReferenceCase> cases;
  const auto& snippets = FeatureSnippets();
  for (size_t i = 0; i < snippets.size(); ++i) {
    names.push_back(StrCat("#", i));
    cases.push_back({snippets[i], context, kFixedNow});
  }
  ExpectSame("feature snippets", names, cases, [&](size_t i) { return RenderWithPagellm(cases[i]); });
}

TEST_F(Jinja2Differential, SharedTokenizerTemplates) {
  auto dir = pagellm::testing::SharedDir();
  if (!dir) GTEST_SKIP() << "shared test data not found (set PAGELLM_SHARED_DIR)";
  std::vector<std::pair<std::string, std::string>> templates;
  std::vector<SpecialTokens> tokens;
  std::vector<std::filesystem::path> configs;
  for (const auto& entry : std::filesystem::directory_iterator(*dir / "tokenizers")) {
    if (std::filesystem::exists(entry.path() / "tokenizer_config.json")) {
      configs.push_back(entry.path() / "tokenizer_config.json");
    }
  }
  std::sort(configs.begin(), configs.end());
  for (const auto& path : configs) {
    const auto config = nlohmann::ordered_json::parse(ReadFile(path), nullptr, false);
    ASSERT_FALSE(config.is_discarded()) << path;
    const std::string model = path.parent_path().filename().string();
    SpecialTokens t;
    if (config.contains("bos_token") && config["bos_token"].is_string()) t.bos_token = config["bos_token"];
    if (config.contains("eos_token") && config["eos_token"].is_string()) t.eos_token = config["eos_token"];
    const auto it = config.find("chat_template");
    if (it == config.end() || it->is_null()) continue;
    if (it->is_string()) {
      templates.emplace_back(model, it->get<std::string>());
      tokens.push_back(t);
    } else if (it->is_array()) {  // [{"name": ..., "template": ...}]
      for (const auto& named : *it) {
        templates.emplace_back(StrCat(model, ":", named.value("name", "?")), named.value("template", ""));
        tokens.push_back(t);
      }
    }
  }
  ASSERT_FALSE(templates.empty()) << "no chat_template found under " << *dir / "tokenizers";
  std::cout << "[differential] shared templates:";
  for (const auto& [name, source] : templates) std::cout << " " << name;
  std::cout << std::endl;
  ExpectSameChats("shared tokenizer templates", templates, tokens);
}

TEST_F(Jinja2Differential, PopularModelTemplates) {
  std::vector<std::pair<std::string, std::string>> templates;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(TestdataDir() / "templates")) {
    if (entry.path().extension() == ".jinja") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 8u);
  for (const auto& f : files) templates.emplace_back(f.stem().string(), ReadFile(f));
  std::vector<SpecialTokens> tokens(templates.size(), SpecialTokens{"<s>", "</s>", {}, {}});
  ExpectSameChats("popular model templates", templates, tokens);
}

TEST_F(Jinja2Differential, GeneratedTypedExpressions) {
  const auto context = nlohmann::ordered_json::parse(SnippetContext());
  std::mt19937 rng(7);
  std::vector<std::string> names;
  std::vector<ReferenceCase> cases;
  for (int i = 0; i < 3000; ++i) {
    names.push_back(StrCat("typed#", i));
    cases.push_back({GenerateTypedTemplate(rng), context, kFixedNow});
  }
  ExpectSame("generated typed templates", names, cases,
             [&](size_t i) { return RenderWithPagellm(cases[i]); });
}

TEST_F(Jinja2Differential, GeneratedExpressions) {
  const auto context = nlohmann::ordered_json::parse(SnippetContext());
  std::mt19937 rng(20240726);
  std::vector<std::string> names;
  std::vector<ReferenceCase> cases;
  for (int i = 0; i < 3000; ++i) {
    names.push_back(StrCat("gen#", i));
    cases.push_back({GenerateTemplate(rng), context, kFixedNow});
  }
  ExpectSame("generated templates", names, cases, [&](size_t i) { return RenderWithPagellm(cases[i]); });
}

}  // namespace
}  // namespace pagellm::jinja::testing
