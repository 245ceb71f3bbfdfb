// jinja::Template: parse once, render with a fresh heap and scopes per call.
#include "src/jinja/template.h"

#include "src/jinja/builtins.h"
#include "src/jinja/json.h"
#include "src/jinja/pystr.h"

namespace pagellm::jinja {

StatusOr<Template> Template::Parse(std::string_view source, const TemplateOptions& options) {
  if (source.size() > options.max_source_bytes) {
    return InvalidArgument(StrCat("template source is ", source.size(), " bytes, over the limit of ",
                                  options.max_source_bytes));
  }
  if (!py::IsValidUtf8(source)) return InvalidArgument("template source is not valid UTF-8");
  ASSIGN_OR_RETURN(Body body, ParseTemplateSource(source, options.lex, options.parse));
  return Template(std::make_shared<const Body>(std::move(body)));
}

template <typename Json>
StatusOr<std::string> Template::RenderJson(const Json& context, const RenderOptions& options) const {
  if (!context.is_object() && !context.is_null()) {
    return InvalidArgument("template context must be a JSON object");
  }
  Heap heap;
  Scope* globals = heap.New<Scope>();
  AddGlobals(heap, globals);
  Scope* vars = heap.New<Scope>();
  vars->parent = globals;
  if (context.is_object()) {
    for (auto it = context.begin(); it != context.end(); ++it) {
      ASSIGN_OR_RETURN(Value v, FromJson(it.value(), &heap));
      vars->Set(it.key(), std::move(v));
    }
  }
  Scope* root = heap.New<Scope>();
  root->parent = vars;
  Interpreter interpreter(options, &heap);
  return interpreter.Render(*body_, root);
}

StatusOr<std::string> Template::Render(const nlohmann::ordered_json& context,
                                       const RenderOptions& options) const {
  return RenderJson(context, options);
}

StatusOr<std::string> Template::Render(const nlohmann::json& context,
                                       const RenderOptions& options) const {
  return RenderJson(context, options);
}

}  // namespace pagellm::jinja
