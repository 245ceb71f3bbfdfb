// Decoder: parsing HF decoder JSON into per-token transforms plus the leading-strip rule.
#include "src/tokenizer/decoder.h"

#include "src/tokenizer/normalizer.h"
#include "src/tokenizer/unicode.h"
#include "src/tokenizer/utf8.h"

namespace pagellm::tokenizer {
namespace {

constexpr int kMaxNesting = 16;
constexpr std::string_view kMetaspace = "\xE2\x96\x81";

// "<0xNN>" -> the byte, else -1.
int ByteFallbackValue(std::string_view p) {
  if (p.size() != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>') return -1;
  int v = 0;
  for (int k = 3; k < 5; ++k) {
    const char c = p[k];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else return -1;
  }
  return v;
}

std::string ByteLevelToBytes(std::string_view piece) {
  const ByteLevelAlphabet& alphabet = GetByteLevelAlphabet();
  std::string out;
  out.reserve(piece.size());
  size_t pos = 0;
  while (pos < piece.size()) {
    const int b = alphabet.CodepointToByte(NextCodepoint(piece, &pos));
    if (b < 0) return std::string(piece);  // not a byte-level piece (HF keeps it as is)
    out.push_back(static_cast<char>(b));
  }
  return out;
}

}  // namespace

StatusOr<Decoder> Decoder::FromJson(const Json& j, std::string_view where) {
  Decoder d;
  if (j.is_null()) {
    Step s;
    s.kind = Kind::kJoinSpace;
    d.steps_.push_back(s);
    d.first_sensitive_ = true;
    d.separates_ = true;
    return d;
  }
  RETURN_IF_ERROR(d.Parse(j, where, 0));
  return d;
}

Decoder Decoder::ByteLevel() {
  Decoder d;
  Step s;
  s.kind = Kind::kByteLevel;
  d.steps_.push_back(s);
  d.fused_ = true;
  return d;
}

Decoder Decoder::SentencePiece(bool strip_leading_space) {
  Decoder d;
  Step r;
  r.kind = Kind::kReplace;
  r.a = std::string(kMetaspace);
  r.b = " ";
  d.steps_.push_back(r);
  Step f;
  f.kind = Kind::kByteFallback;
  d.steps_.push_back(f);
  d.fused_ = true;
  d.strip_leading_ = strip_leading_space ? 1 : 0;
  return d;
}

Status Decoder::Parse(const Json& j, std::string_view where, int depth) {
  if (depth > kMaxNesting) return JsonError(where, "nests Sequences too deeply");
  ASSIGN_OR_RETURN(std::string type, JsonType(j, where));
  Step step;
  if (type == "Sequence") {
    const Json* list = JsonFind(j, "decoders");
    if (list == nullptr || !list->is_array()) return JsonError(where, "needs a decoders array");
    for (size_t i = 0; i < list->size(); ++i) {
      RETURN_IF_ERROR(Parse((*list)[i], StrCat(where, ".decoders[", i, "]"), depth + 1));
    }
    return absl::OkStatus();
  } else if (type == "ByteLevel") {
    step.kind = Kind::kByteLevel;
    steps_.push_back(step);
    fused_ = true;  // HF's ByteLevel decoder returns one string
    return absl::OkStatus();
  } else if (type == "ByteFallback") {
    step.kind = Kind::kByteFallback;
  } else if (type == "Fuse") {
    fused_ = true;
    return absl::OkStatus();
  } else if (type == "Replace") {
    step.kind = Kind::kReplace;
    const Json* p = JsonFind(j, "pattern");
    const Json* c = JsonFind(j, "content");
    if (p == nullptr || c == nullptr) return JsonError(where, "(Replace) needs pattern and content");
    const Json* s = JsonFind(*p, "String");
    if (s == nullptr) {
      return Unimplemented(StrCat(where, ": Replace decoder supports only String patterns"));
    }
    ASSIGN_OR_RETURN(step.a, JsonString(*s, StrCat(where, ".pattern.String")));
    if (step.a.empty()) return JsonError(where, "has an empty pattern");
    ASSIGN_OR_RETURN(step.b, JsonString(*c, StrCat(where, ".content")));
    size_t pos = 0;
    NextCodepoint(step.a, &pos);
    if (fused_ && pos != step.a.size()) {
      // A multi-character pattern could straddle tokens of the fused text.
      return Unimplemented(StrCat(where, ": Replace of a multi-character pattern after Fuse"));
    }
  } else if (type == "Strip") {
    step.kind = Kind::kStrip;
    ASSIGN_OR_RETURN(std::string content, JsonStringOr(j, "content", " ", where));
    if (content.size() != 1) return JsonError(where, "(Strip) content must be one ASCII character");
    step.c = content[0];
    ASSIGN_OR_RETURN(int64_t start, JsonIntOr(j, "start", 0, where));
    ASSIGN_OR_RETURN(int64_t stop, JsonIntOr(j, "stop", 0, where));
    if (start < 0 || stop < 0 || start > 64 || stop > 64) {
      return JsonError(where, "(Strip) start/stop must be in [0, 64]");
    }
    step.start = static_cast<int>(start);
    step.stop = static_cast<int>(stop);
    if (fused_) {
      // Strip of the whole decoded text.
      if (step.stop > 0) {
        return Unimplemented(StrCat(where, ": Strip with stop > 0 after Fuse is not supported"));
      }
      if (strip_leading_ > 0 && step.c != strip_char_) {
        return Unimplemented(StrCat(where, ": two whole-text Strip decoders are not supported"));
      }
      strip_leading_ += step.start;
      strip_char_ = step.c;
      return absl::OkStatus();
    }
  } else if (type == "Metaspace") {
    step.kind = Kind::kMetaspace;
    ASSIGN_OR_RETURN(step.a, JsonStringOr(j, "replacement", kMetaspace, where));
    if (step.a.empty()) return JsonError(where, "(Metaspace) replacement must not be empty");
    const Json* scheme = JsonFind(j, "prepend_scheme");
    if (scheme != nullptr && !scheme->is_null()) {
      ASSIGN_OR_RETURN(std::string s, JsonString(*scheme, StrCat(where, ".prepend_scheme")));
      step.flag = s != "never";
    } else {
      ASSIGN_OR_RETURN(step.flag, JsonBoolOr(j, "add_prefix_space", true, where));
    }
    first_sensitive_ = first_sensitive_ || step.flag;
  } else if (type == "WordPiece") {
    step.kind = Kind::kWordPiece;
    ASSIGN_OR_RETURN(step.a, JsonStringOr(j, "prefix", "##", where));
    first_sensitive_ = true;
    separates_ = true;
  } else {
    return Unimplemented(StrCat(where, ": decoder type '", type, "' is not supported"));
  }
  if (fused_ && step.kind != Kind::kReplace && step.kind != Kind::kByteFallback) {
    // After Fuse there is one token: only byte-for-byte transforms keep their meaning.
    return Unimplemented(StrCat(where, ": decoder '", type, "' after Fuse is not supported"));
  }
  steps_.push_back(std::move(step));
  return absl::OkStatus();
}

std::string Decoder::SeparatedBytes(std::string_view content, bool first) const {
  return separates_ && !first ? StrCat(" ", content) : std::string(content);
}

std::string Decoder::PieceBytes(std::string_view piece, bool first) const {
  std::string s(piece);
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Kind::kReplace:
        s = ReplaceAll(s, step.a, step.b);
        break;
      case Kind::kByteFallback: {
        const int b = ByteFallbackValue(s);
        if (b >= 0) s.assign(1, static_cast<char>(b));
        break;
      }
      case Kind::kByteLevel:
        s = ByteLevelToBytes(s);
        break;
      case Kind::kMetaspace:
        s = ReplaceAll(s, step.a, " ");
        if (first && step.flag && !s.empty() && s[0] == ' ') s.erase(0, 1);
        break;
      case Kind::kWordPiece:
        if (s.compare(0, step.a.size(), step.a) == 0) {
          s.erase(0, step.a.size());
        } else if (!first) {
          s.insert(s.begin(), ' ');
        }
        break;
      case Kind::kStrip: {
        size_t b = 0, e = s.size();
        for (int k = 0; k < step.start && b < e && s[b] == step.c; ++k) ++b;
        for (int k = 0; k < step.stop && e > b && s[e - 1] == step.c; ++k) --e;
        s = s.substr(b, e - b);
        break;
      }
      case Kind::kJoinSpace:
        if (!first) s.insert(s.begin(), ' ');
        break;
    }
  }
  return s;
}

}  // namespace pagellm::tokenizer
