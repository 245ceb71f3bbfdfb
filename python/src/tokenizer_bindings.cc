// _C.Tokenizer (a loaded tokenizer: the engine's, or one read from files) and _C.ChatTemplate.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "python/src/bindings.h"
#include "src/engine/chat_render.h"
#include "python/src/py_status.h"
#include "python/src/py_tokenizer.h"
#include "src/format/gguf.h"

namespace pagellm::python {
namespace {

namespace fs = std::filesystem;

// A tokenizer read from files, with the GGUF mapping it was read from (if any).
struct OwnedTokenizer {
  std::unique_ptr<GgufFile> gguf;
  std::unique_ptr<Tokenizer> tokenizer;
};

// path: a folder with tokenizer.json (+ tokenizer_config.json), a tokenizer.json file, a .gguf
// file, or a llama2.c tokenizer .bin (then vocab_size is required).
StatusOr<PyTokenizer> LoadTokenizer(const std::string& path, std::optional<int> vocab_size) {
  std::error_code ec;
  fs::path p(path);
  if (!fs::exists(p, ec)) return NotFound(StrCat("tokenizer path ", path, " does not exist"));
  if (fs::is_directory(p, ec)) {
    if (!fs::exists(p / "tokenizer.json", ec)) {
      return NotFound(StrCat(path, " holds no tokenizer.json"));
    }
    p /= "tokenizer.json";
  }
  auto owned = std::make_shared<OwnedTokenizer>();
  if (p.extension() == ".json") {
    const fs::path cfg = p.parent_path() / "tokenizer_config.json";
    ASSIGN_OR_RETURN(owned->tokenizer,
                     Tokenizer::FromHfFiles(p.string(), fs::exists(cfg, ec) ? cfg.string() : ""));
  } else if (p.extension() == ".gguf") {
    ASSIGN_OR_RETURN(owned->gguf, GgufFile::Open(p.string()));
    ASSIGN_OR_RETURN(owned->tokenizer, Tokenizer::FromGguf(*owned->gguf));
  } else {
    if (!vocab_size) {
      return InvalidArgument(StrCat(path, ": a llama2.c tokenizer .bin needs vocab_size (the model's)"));
    }
    ASSIGN_OR_RETURN(owned->tokenizer, Tokenizer::FromLlama2c(p.string(), *vocab_size));
  }
  const Tokenizer* raw = owned->tokenizer.get();
  return PyTokenizer{std::shared_ptr<const Tokenizer>(owned, raw)};
}

py::list Ids(const std::vector<TokenId>& ids) {
  py::list out(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) out[i] = py::int_(ids[i]);
  return out;
}

py::object OptionalId(TokenId id) { return id < 0 ? py::object(py::none()) : py::object(py::int_(id)); }

py::object OptionalText(std::string_view s) {
  return s.empty() ? py::object(py::none()) : py::object(DecodeUtf8(s));
}

nlohmann::ordered_json ParseJson(const std::string& text, std::string_view what) {
  try {
    return nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw StatusError(InvalidArgument(StrCat(what, " is not valid JSON: ", e.what())));
  }
}

}  // namespace

void BindTokenizer(py::module_& m) {
  py::class_<PyTokenizer>(m, "Tokenizer")
      .def_static(
          "from_file",
          [](const std::string& path, std::optional<int> vocab_size) {
            py::gil_scoped_release release;
            return ValueOrThrow(LoadTokenizer(path, vocab_size));
          },
          py::arg("path"), py::arg("vocab_size") = py::none())
      .def(
          "encode",
          [](const PyTokenizer& t, const std::string& text, bool add_special, bool parse_special) {
            std::vector<TokenId> ids;
            {
              py::gil_scoped_release release;
              ids = ValueOrThrow(t.tok->Encode(text, {.add_special = add_special, .parse_special = parse_special}));
            }
            return Ids(ids);
          },
          py::arg("text"), py::arg("add_special") = true, py::arg("parse_special") = false)
      .def(
          "decode",
          [](const PyTokenizer& t, const std::vector<TokenId>& ids, bool skip_special) {
            std::string text;
            {
              py::gil_scoped_release release;
              text = ValueOrThrow(t.tok->Decode(ids, skip_special));
            }
            return DecodeUtf8(text);
          },
          py::arg("ids"), py::arg("skip_special_tokens") = false)
      .def("token_piece", [](const PyTokenizer& t, TokenId id) { return DecodeUtf8(ValueOrThrow(t.tok->TokenPiece(id))); })
      .def("token_bytes",
           [](const PyTokenizer& t, TokenId id) {
             const std::string_view b = ValueOrThrow(t.tok->TokenBytes(id));
             return py::bytes(b.data(), b.size());
           })
      .def("token_to_id", [](const PyTokenizer& t, const std::string& piece) { return OptionalId(t.tok->TokenToId(piece)); })
      .def("is_special", [](const PyTokenizer& t, TokenId id) { return t.tok->IsSpecial(id); })
      .def_property_readonly("vocab_size", [](const PyTokenizer& t) { return t.tok->vocab_size(); })
      .def_property_readonly("bos_id", [](const PyTokenizer& t) { return OptionalId(t.tok->bos_id()); })
      .def_property_readonly("eos_id", [](const PyTokenizer& t) { return OptionalId(t.tok->eos_id()); })
      .def_property_readonly("eos_ids", [](const PyTokenizer& t) { return Ids(t.tok->eos_ids()); })
      .def_property_readonly("unk_id", [](const PyTokenizer& t) { return OptionalId(t.tok->unk_id()); })
      .def_property_readonly("pad_id", [](const PyTokenizer& t) { return OptionalId(t.tok->pad_id()); })
      .def_property_readonly("add_bos", [](const PyTokenizer& t) { return t.tok->add_bos(); })
      .def_property_readonly("add_eos", [](const PyTokenizer& t) { return t.tok->add_eos(); })
      .def_property_readonly("bos_token", [](const PyTokenizer& t) { return OptionalText(t.tok->bos_token()); })
      .def_property_readonly("eos_token", [](const PyTokenizer& t) { return OptionalText(t.tok->eos_token()); })
      .def_property_readonly("chat_template", [](const PyTokenizer& t) { return OptionalText(t.tok->chat_template()); })
      .def_property_readonly("chat_templates", [](const PyTokenizer& t) {
        py::dict d;
        for (const auto& [name, source] : t.tok->chat_templates()) d[DecodeUtf8(name)] = DecodeUtf8(source);
        return d;
      });

  py::class_<jinja::ChatTemplate>(m, "ChatTemplate")
      .def(py::init([](const std::string& source) {
             auto t = jinja::ChatTemplate::Parse(source);
             if (!t.ok()) {
               throw StatusError(InvalidArgument(StrCat("the chat template does not parse: ", t.status().message())));
             }
             return std::move(*t);
           }),
           py::arg("source"))
      .def(
          "render_chat",
          [](const jinja::ChatTemplate& tmpl, const std::string& messages_json, const PyTokenizer* tok,
             bool add_generation_prompt, bool continue_final_message, bool flatten_text_content,
             const std::string& tools_json, const std::string& kwargs_json) {
            ChatRenderOptions options;
            options.add_generation_prompt = add_generation_prompt;
            options.continue_final_message = continue_final_message;
            options.flatten_text_content = flatten_text_content;
            const auto messages = ParseJson(messages_json, "messages");
            options.tools = ParseJson(tools_json, "tools");
            options.extra = ParseJson(kwargs_json, "chat_template_kwargs");
            const jinja::SpecialTokens special = TemplateSpecialTokens(tok != nullptr ? tok->tok.get() : nullptr);
            std::string prompt;
            {
              py::gil_scoped_release release;
              prompt = ValueOrThrow(RenderChatPrompt(tmpl, messages, special, options));
            }
            return DecodeUtf8(prompt);
          },
          py::arg("messages_json"), py::arg("tokenizer"), py::arg("add_generation_prompt") = true,
          py::arg("continue_final_message") = false, py::arg("flatten_text_content") = true,
          py::arg("tools_json") = "null", py::arg("chat_template_kwargs_json") = "{}",
          "Renders a conversation (JSON text) with the tokenizer's BOS/EOS strings, like the server.");
}

}  // namespace pagellm::python
