// jinja::Template: a parsed Jinja2 template, rendered against a JSON context with the Hugging
// Face chat-template environment (trim_blocks, lstrip_blocks, loopcontrols, immutable sandbox,
// HF's tojson / raise_exception / strftime_now).
//
//   ASSIGN_OR_RETURN(auto t, jinja::Template::Parse("Hello {{ name|upper }}!"));
//   ASSIGN_OR_RETURN(std::string s, t.Render(nlohmann::ordered_json{{"name", "x"}}));
//
// Thread-safety: a Template is immutable after Parse; Render may run concurrently.
// Errors are Status: InvalidArgument for syntax errors ("syntax error at line L, column C: ...")
// and template errors ("'foo' is undefined (template line 3)", raise_exception's message, type
// errors); ResourceExhausted when a RenderLimits bound is hit. Nothing throws.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"
#include "src/base/status.h"
#include "src/jinja/interpreter.h"
#include "src/jinja/lexer.h"
#include "src/jinja/parser.h"

namespace pagellm::jinja {

struct TemplateOptions {
  LexOptions lex;      // HF: trim_blocks and lstrip_blocks on
  ParseOptions parse;  // nesting limit
  size_t max_source_bytes = size_t{4} << 20;
};

class Template {
 public:
  static StatusOr<Template> Parse(std::string_view source, const TemplateOptions& options = {});

  // `context` must be a JSON object; each key becomes a template variable. Use ordered_json to
  // keep the key order of dicts (as Python's json.loads does); nlohmann::json sorts keys.
  StatusOr<std::string> Render(const nlohmann::ordered_json& context,
                               const RenderOptions& options = {}) const;
  StatusOr<std::string> Render(const nlohmann::json& context,
                               const RenderOptions& options = {}) const;

 private:
  explicit Template(std::shared_ptr<const Body> body) : body_(std::move(body)) {}
  template <typename Json>
  StatusOr<std::string> RenderJson(const Json& context, const RenderOptions& options) const;

  std::shared_ptr<const Body> body_;
};

}  // namespace pagellm::jinja
