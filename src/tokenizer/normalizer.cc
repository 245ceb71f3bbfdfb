// Normalizer: parsing HF normalizer JSON and applying the steps.
#include "src/tokenizer/normalizer.h"

#include "src/tokenizer/utf8.h"

namespace pagellm::tokenizer {
namespace {

constexpr int kMaxNesting = 16;

// HF's Replace/Split "pattern": {"String": "..."} or {"Regex": "..."}.
Status ParsePattern(const Json& j, std::string_view where, std::string* literal,
                    std::unique_ptr<Regex>* regex) {
  if (const Json* s = JsonFind(j, "String")) {
    ASSIGN_OR_RETURN(*literal, JsonString(*s, StrCat(where, ".String")));
    if (literal->empty()) return JsonError(where, "has an empty String pattern");
    return absl::OkStatus();
  }
  if (const Json* r = JsonFind(j, "Regex")) {
    ASSIGN_OR_RETURN(std::string pattern, JsonString(*r, StrCat(where, ".Regex")));
    auto compiled = Regex::Compile(pattern);
    if (!compiled.ok()) return JsonError(where, StrCat(compiled.status().message()));
    *regex = std::move(compiled).value();
    return absl::OkStatus();
  }
  return JsonError(where, "must be {\"String\": ...} or {\"Regex\": ...}");
}

}  // namespace

std::string ReplaceAll(std::string_view text, std::string_view pattern, std::string_view content) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (true) {
    const size_t hit = text.find(pattern, pos);
    if (hit == std::string_view::npos) break;
    out.append(text.substr(pos, hit - pos));
    out.append(content);
    pos = hit + pattern.size();
  }
  out.append(text.substr(pos));
  return out;
}

StatusOr<std::unique_ptr<Normalizer>> Normalizer::FromJson(const Json& j, std::string_view where) {
  auto n = std::make_unique<Normalizer>();
  if (!j.is_null()) RETURN_IF_ERROR(n->Parse(j, where, 0));
  return n;
}

Status Normalizer::Parse(const Json& j, std::string_view where, int depth) {
  if (depth > kMaxNesting) return JsonError(where, "nests Sequences too deeply");
  ASSIGN_OR_RETURN(std::string type, JsonType(j, where));
  Step step;
  if (type == "Sequence") {
    const Json* list = JsonFind(j, "normalizers");
    if (list == nullptr || !list->is_array()) return JsonError(where, "needs a normalizers array");
    for (size_t i = 0; i < list->size(); ++i) {
      RETURN_IF_ERROR(Parse((*list)[i], StrCat(where, ".normalizers[", i, "]"), depth + 1));
    }
    return absl::OkStatus();
  } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    step.kind = Kind::kForm;
    step.form = type == "NFC"    ? NormalForm::kNFC
                : type == "NFD"  ? NormalForm::kNFD
                : type == "NFKC" ? NormalForm::kNFKC
                                 : NormalForm::kNFKD;
  } else if (type == "Lowercase") {
    step.kind = Kind::kLowercase;
  } else if (type == "StripAccents") {
    step.kind = Kind::kStripAccents;
  } else if (type == "Strip") {
    step.kind = Kind::kStrip;
    ASSIGN_OR_RETURN(step.left, JsonBoolOr(j, "strip_left", true, where));
    ASSIGN_OR_RETURN(step.right, JsonBoolOr(j, "strip_right", true, where));
  } else if (type == "Prepend") {
    step.kind = Kind::kPrepend;
    const Json* p = JsonFind(j, "prepend");
    if (p == nullptr) return JsonError(where, "(Prepend) needs \"prepend\"");
    ASSIGN_OR_RETURN(step.a, JsonString(*p, StrCat(where, ".prepend")));
  } else if (type == "Replace") {
    step.kind = Kind::kReplace;
    const Json* p = JsonFind(j, "pattern");
    const Json* c = JsonFind(j, "content");
    if (p == nullptr || c == nullptr) return JsonError(where, "(Replace) needs pattern and content");
    RETURN_IF_ERROR(ParsePattern(*p, StrCat(where, ".pattern"), &step.a, &step.regex));
    ASSIGN_OR_RETURN(step.b, JsonString(*c, StrCat(where, ".content")));
  } else if (type == "BertNormalizer") {
    step.kind = Kind::kBert;
    ASSIGN_OR_RETURN(step.clean_text, JsonBoolOr(j, "clean_text", true, where));
    ASSIGN_OR_RETURN(step.chinese, JsonBoolOr(j, "handle_chinese_chars", true, where));
    ASSIGN_OR_RETURN(step.lowercase, JsonBoolOr(j, "lowercase", true, where));
    // strip_accents: null means "same as lowercase".
    ASSIGN_OR_RETURN(step.strip_accents, JsonBoolOr(j, "strip_accents", step.lowercase, where));
  } else if (type == "Precompiled") {
    const Json* map = JsonFind(j, "precompiled_charsmap");
    if (map != nullptr && !map->is_null()) {
      return Unimplemented(StrCat(where, ": Precompiled normalizer with a charsmap is not supported"));
    }
    return absl::OkStatus();
  } else {
    return Unimplemented(StrCat(where, ": normalizer type '", type, "' is not supported"));
  }
  steps_.push_back(std::move(step));
  return absl::OkStatus();
}

void Normalizer::AddForm(NormalForm form) {
  Step s;
  s.kind = Kind::kForm;
  s.form = form;
  steps_.push_back(std::move(s));
}

void Normalizer::AddPrepend(std::string prefix) {
  Step s;
  s.kind = Kind::kPrepend;
  s.a = std::move(prefix);
  steps_.push_back(std::move(s));
}

void Normalizer::AddReplace(std::string pattern, std::string content) {
  Step s;
  s.kind = Kind::kReplace;
  s.a = std::move(pattern);
  s.b = std::move(content);
  steps_.push_back(std::move(s));
}

void Normalizer::AddBert(bool clean_text, bool handle_chinese_chars, bool strip_accents,
                         bool lowercase) {
  Step s;
  s.kind = Kind::kBert;
  s.clean_text = clean_text;
  s.chinese = handle_chinese_chars;
  s.strip_accents = strip_accents;
  s.lowercase = lowercase;
  steps_.push_back(std::move(s));
}

std::string Normalizer::Apply(std::string_view text) const {
  std::string s(text);
  for (const Step& step : steps_) ApplyStep(step, &s);
  return s;
}

namespace {

std::string StripAccents(std::string_view text) {
  const std::string nfd = Normalize(text, NormalForm::kNFD);
  std::string out;
  out.reserve(nfd.size());
  size_t pos = 0;
  while (pos < nfd.size()) {
    const char32_t cp = NextCodepoint(nfd, &pos);
    if (!IsNonspacingMark(cp)) AppendUtf8(cp, &out);
  }
  return out;
}

std::string BertClean(std::string_view text, bool clean_text, bool chinese) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const char32_t cp = NextCodepoint(text, &pos);
    if (clean_text) {
      const bool control = cp != '\t' && cp != '\n' && cp != '\r' && IsOther(cp);
      if (cp == 0 || cp == kReplacementChar || control) continue;
      if (IsWhitespace(cp)) {
        out.push_back(' ');
        continue;
      }
    }
    if (chinese && IsChineseChar(cp)) {
      out.push_back(' ');
      AppendUtf8(cp, &out);
      out.push_back(' ');
      continue;
    }
    AppendUtf8(cp, &out);
  }
  return out;
}

// Byte length of the leading (or trailing) run of white space.
size_t LeadingSpace(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    size_t next = pos;
    if (!IsWhitespace(NextCodepoint(s, &next))) break;
    pos = next;
  }
  return pos;
}

size_t TrailingSpaceStart(std::string_view s) {
  size_t end = s.size();
  size_t pos = 0, last_non_space_end = 0;
  while (pos < end) {
    size_t next = pos;
    if (!IsWhitespace(NextCodepoint(s, &next))) last_non_space_end = next;
    pos = next;
  }
  return last_non_space_end;
}

}  // namespace

void Normalizer::ApplyStep(const Step& step, std::string* text) const {
  switch (step.kind) {
    case Kind::kForm:
      *text = Normalize(*text, step.form);
      return;
    case Kind::kLowercase:
      *text = ToLower(*text);
      return;
    case Kind::kStripAccents:
      *text = StripAccents(*text);
      return;
    case Kind::kStrip: {
      std::string_view v(*text);
      if (step.right) v = v.substr(0, TrailingSpaceStart(v));
      if (step.left) v.remove_prefix(LeadingSpace(v));
      *text = std::string(v);
      return;
    }
    case Kind::kPrepend:
      if (!text->empty()) text->insert(0, step.a);
      return;
    case Kind::kReplace: {
      if (step.regex == nullptr) {
        *text = ReplaceAll(*text, step.a, step.b);
        return;
      }
      std::vector<std::pair<size_t, size_t>> matches;
      if (!step.regex->FindAll(*text, &matches).ok()) return;  // leave the text unchanged
      std::string out;
      size_t pos = 0;
      for (const auto& [b, e] : matches) {
        out.append(*text, pos, b - pos);
        out.append(step.b);
        pos = e;
      }
      out.append(*text, pos, std::string::npos);
      *text = std::move(out);
      return;
    }
    case Kind::kBert: {
      std::string s = BertClean(*text, step.clean_text, step.chinese);
      if (step.strip_accents) s = StripAccents(s);
      if (step.lowercase) s = ToLower(s);
      *text = std::move(s);
      return;
    }
  }
}

}  // namespace pagellm::tokenizer
