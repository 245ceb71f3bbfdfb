// Test helpers for the Jinja interpreter: rendering shortcuts and the reference renderer
// (Python's jinja2 configured like Hugging Face transformers, via testdata/hf_render.py).
#pragma once

#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "src/base/status.h"
#include "src/jinja/template.h"

namespace pagellm::jinja::testing {

// src/jinja/testdata.
std::filesystem::path TestdataDir();

// Parses and renders `source` with `context` (a JSON object in text form, "" for none).
StatusOr<std::string> RenderText(std::string_view source, std::string_view context_json = "",
                                 const RenderOptions& options = {});

// Renders and returns the output; records a test failure (and returns "<error: ...>") if it fails.
std::string RenderOk(std::string_view source, std::string_view context_json = "",
                     const RenderOptions& options = {});
// Renders expecting failure; returns the status message (records a failure if it succeeds).
std::string RenderError(std::string_view source, std::string_view context_json = "",
                        const RenderOptions& options = {});

// A python3 that can import jinja2 >= 3.1: $PAGELLM_PYTHON, else /usr/bin/python3, else python3
// on PATH. nullopt (with *why filled) if none can.
std::optional<std::string> FindPythonWithJinja(std::string* why);

struct ReferenceCase {
  std::string template_source;
  nlohmann::ordered_json context = nlohmann::ordered_json::object();
  std::optional<int64_t> now;  // seconds since the epoch for strftime_now
};

struct ReferenceResult {
  bool ok = false;
  std::string output;  // rendered text, or the Python exception "Type: message"
};

// Renders every case with hf_render.py --batch in one Python process.
StatusOr<std::vector<ReferenceResult>> RenderWithJinja2(const std::string& python,
                                                        const std::vector<ReferenceCase>& cases);

// Renders a case with pagellm (same environment), as a ReferenceResult.
ReferenceResult RenderWithPagellm(const ReferenceCase& c);

// Small templates exercising one feature each (jinja_snippets_testutil.cc), rendered against
// SnippetContext() (a JSON object text).
const std::vector<std::string>& FeatureSnippets();
const char* SnippetContext();

// A random small template (arithmetic, strings, filters, tests, loops, ...) over the variables
// of SnippetContext() (jinja_generator_testutil.cc).
std::string GenerateTemplate(std::mt19937& rng);
// A random type-directed template (numbers, strings, booleans, lists) that usually renders.
std::string GenerateTypedTemplate(std::mt19937& rng);

}  // namespace pagellm::jinja::testing
