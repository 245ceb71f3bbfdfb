// Python str.format() and the format-spec mini-language for Jinja values.
#pragma once

#include <string>
#include <string_view>

#include "src/base/status.h"
#include "src/jinja/interpreter.h"
#include "src/jinja/value.h"

namespace pagellm::jinja {

// Python format(value, spec): fill/align, sign, 0, width, grouping, precision, type.
StatusOr<std::string> FormatValue(const Value& v, std::string_view spec);

// Python fmt.format(*args.pos, **args.kw), with {0}, {name}, {}, {x.attr}, {x[key]}, !r/!s and
// format specs (nested replacement fields inside a spec are not supported).
StatusOr<std::string> StrDotFormat(Interpreter& in, std::string_view fmt, const CallArgs& args);

}  // namespace pagellm::jinja
