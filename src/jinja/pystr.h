// Python-compatible text primitives for the Jinja runtime: UTF-8 code points, str methods,
// float repr, str repr and json.dumps string escaping (pystr.cc: UTF-8, character classes and
// str methods; pyformat.cc: numbers, repr and escaping).
//
// Strings are UTF-8 byte strings that are always valid (the template source is validated, JSON
// input is validated by nlohmann, and every operation here preserves validity); positions and
// lengths exposed to templates are in code points, as in Python.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pagellm::jinja::py {

// ---- UTF-8 ----
bool IsValidUtf8(std::string_view s);
void AppendUtf8(char32_t cp, std::string* out);
// Decodes the code point at s[*pos] and advances *pos. Precondition: valid UTF-8.
char32_t NextCodepoint(std::string_view s, size_t* pos);
std::vector<char32_t> Decode(std::string_view s);
std::string Encode(const std::vector<char32_t>& cps);
size_t CountCodepoints(std::string_view s);
bool IsAscii(std::string_view s);

// ---- character classes (str.isspace / isalpha / ...) ----
bool IsSpace(char32_t c);
bool IsLineBreak(char32_t c);  // what str.splitlines splits on
bool IsAlpha(char32_t c);
bool IsDecimal(char32_t c);
bool IsAlnum(char32_t c);
bool IsWordChar(char32_t c);   // regex \w
bool IsUpper(char32_t c);
bool IsLower(char32_t c);
bool IsCased(char32_t c);
bool IsPrintable(char32_t c);
char32_t ToUpper(char32_t c);
char32_t ToLower(char32_t c);
char32_t ToTitle(char32_t c);

// ---- str methods ----
std::string Upper(std::string_view s);
std::string Lower(std::string_view s);
std::string Title(std::string_view s);       // str.title()
std::string Capitalize(std::string_view s);  // str.capitalize()
std::string SwapCase(std::string_view s);
// str.strip / lstrip / rstrip; chars == nullopt strips whitespace.
std::string Strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
// str.split / rsplit; sep == nullopt splits on runs of whitespace. maxsplit < 0 is unlimited.
// Precondition: sep, if given, is non-empty (callers report "empty separator").
std::vector<std::string> Split(std::string_view s, const std::optional<std::string>& sep,
                               int64_t maxsplit);
std::vector<std::string> RSplit(std::string_view s, const std::optional<std::string>& sep,
                                int64_t maxsplit);
std::vector<std::string> SplitLines(std::string_view s, bool keepends);
// str.replace; count < 0 replaces all.
std::string Replace(std::string_view s, std::string_view old_s, std::string_view new_s,
                    int64_t count);
// str.find / rfind / count with optional code point bounds (Python slice semantics).
int64_t Find(std::string_view s, std::string_view sub, std::optional<int64_t> start,
             std::optional<int64_t> end, bool reverse);
int64_t Count(std::string_view s, std::string_view sub, std::optional<int64_t> start,
              std::optional<int64_t> end);
// str.center / ljust / rjust with a one-code-point fill string.
std::string Pad(std::string_view s, int64_t width, std::string_view fill, int where /*-1,0,1*/);

// ---- number formatting / parsing ----
std::string FloatRepr(double d);  // Python repr(float): 1.0, 1e-05, 1e+16, inf, nan
std::string IntStr(int64_t i);
// Python int(str, base): whitespace, sign, underscores, base prefixes. nullopt if invalid or
// out of the int64 range (*overflow set then).
std::optional<int64_t> ParseInt(std::string_view s, int base, bool* overflow);
// Python float(str): whitespace, sign, underscores, inf/nan. nullopt if invalid.
std::optional<double> ParseFloat(std::string_view s);
// Python round(x, ndigits) for floats (correctly rounded, ties to even on the exact value).
double RoundFloat(double x, int64_t ndigits);

// ---- repr / json ----
std::string StrRepr(std::string_view s);  // Python repr(str), quotes included
// json.dumps(str) escaping with quotes; ensure_ascii escapes every non-ASCII code point.
void AppendJsonString(std::string_view s, bool ensure_ascii, std::string* out);
// Jinja's escape filter (markupsafe): & < > " ' -> entities.
std::string HtmlEscape(std::string_view s);

}  // namespace pagellm::jinja::py
