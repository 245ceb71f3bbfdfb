// Random small templates for the differential test: expressions over SnippetContext()'s
// variables with literals, operators, filters, tests, methods, slices, conditionals and loops.
// Filters that return generators in jinja2 are always followed by |list (pagellm returns lists).
#include <string>
#include <vector>

#include "src/jinja/jinja_testutil.h"

namespace pagellm::jinja::testing {

namespace {

class Generator {
 public:
  explicit Generator(std::mt19937& rng) : rng_(rng) {}

  std::string Template() {
    std::string out;
    const int parts = 1 + Rand(3);
    for (int i = 0; i < parts; ++i) {
      switch (Rand(8)) {
        case 0:
        case 1:
        case 2: out += "{{ " + Expr(3) + " }}"; break;
        case 3:
          out += "{% for x in " + Expr(2) + " %}{{ x }}{{ loop.index }}{% if not loop.last %},{% endif %}{% else %}E{% endfor %}";
          break;
        case 4:
          out += "{% if " + Expr(2) + " %}A{% elif " + Expr(2) + " %}B{% else %}C{% endif %}";
          break;
        case 5: out += "{% set v = " + Expr(2) + " %}[{{ v }}]{{ v ~ v }}"; break;
        case 6: out += Pick({" text ", "\n", "  {%- if true %} x {% endif -%}  \n", "{# c #}", " {{- ' y ' -}} "}); break;
        default: out += "{{ (" + Expr(2) + ")|" + Filter(Expr(1)) + " }}"; break;
      }
    }
    return out;
  }

 private:
  int Rand(int n) { return static_cast<int>(rng_() % static_cast<unsigned>(n)); }
  std::string Pick(std::initializer_list<const char*> options) {
    auto it = options.begin();
    std::advance(it, Rand(static_cast<int>(options.size())));
    return *it;
  }

  std::string IntLit() { return std::to_string(Rand(25) - 5); }
  std::string Literal() {
    switch (Rand(7)) {
      case 0:
      case 1: return IntLit();
      case 2: return Pick({"0.5", "1.25", "-2.5", "3.0", "0.1", "1e3", "2.75", "1.5e-3"});
      case 3:
        return Pick({"'abc'", "'Hello World'", "''", "' pad '", "'a,b,c'", "'Grüße'", "'x\\ny'", "'42'",
                     "'3.5'", "'AbC'", "\"q'q\""});
      case 4: return Pick({"true", "false", "none"});
      case 5: return "[" + Expr(1) + ", " + Expr(1) + "]";
      default: return "{'k': " + Expr(1) + ", 'j': " + IntLit() + "}";
    }
  }
  std::string Var() {
    return Pick({"n", "neg", "f", "s", "u", "l", "strs", "d", "empty", "el", "t", "fa", "none_v",
                 "people", "nested.x.y", "d.a", "l[0]", "s[1:3]", "people[1].name", "people[2].age",
                 "undefined_thing", "third", "text", "ed", "messages[1].content"});
  }
  std::string Filter(const std::string& arg) {
    switch (Rand(36)) {
      case 0: return "upper";
      case 1: return "lower";
      case 2: return "length";
      case 3: return "trim";
      case 4: return "title";
      case 5: return "capitalize";
      case 6: return "string";
      case 7: return "int";
      case 8: return "float";
      case 9: return "abs";
      case 10: return "round(" + std::to_string(Rand(3)) + ")";
      case 11: return "default(" + arg + ")";
      case 12: return "default(" + arg + ", true)";
      case 13: return "first";
      case 14: return "last";
      case 15: return "list";
      case 16: return "sort|list";
      case 17: return "reverse|list";
      case 18: return "join(', ')";
      case 19: return "unique|list";
      case 20: return "tojson";
      case 21: return "sum";
      case 22: return "min";
      case 23: return "max";
      case 24: return "replace('a', '_')";
      case 25: return "center(9)";
      case 26: return "indent(2)";
      case 27: return "map('string')|list";
      case 28: return "select('odd')|list";
      case 29: return "reject('none')|list";
      case 30: return "batch(2)|list";
      case 31: return "wordcount";
      case 32: return "e";
      case 33: return "dictsort";
      case 34: return "items|list";
      default: return "tojson(indent=1)";
    }
  }
  std::string Test() {
    return Pick({"defined", "undefined", "none", "string", "number", "integer", "float", "mapping",
                 "iterable", "sequence", "boolean", "odd", "even", "lower", "upper", "true", "false",
                 "divisibleby 3", "in [1, 2, 'abc']", "eq 5", "gt 2", "le 3", "callable"});
  }
  std::string Method(const std::string& obj) {
    return obj + Pick({".upper()", ".lower()", ".strip()", ".split(',')", ".split()", ".title()",
                       ".replace('l', 'L')", ".startswith('H')", ".endswith('d')", ".find('o')",
                       ".count('l')", ".lstrip('H')", ".capitalize()", ".splitlines()",
                       ".rsplit(' ', 1)", ".isdigit()", ".zfill(6)"});
  }

  std::string Expr(int depth) {
    if (depth <= 0) return Rand(2) ? Literal() : Var();
    const int d = depth - 1;
    switch (Rand(16)) {
      case 0: return Literal();
      case 1:
      case 2: return Var();
      case 3:
      case 4:
        return "(" + Expr(d) + " " +
               Pick({"+", "-", "*", "/", "//", "%", "~", "and", "or", "==", "!=", "<", ">", "<=",
                     ">=", "in", "not in"}) +
               " " + Expr(d) + ")";
      case 5: return Pick({"not ", "-"}) + "(" + Expr(d) + ")";
      case 6:
      case 7: return "(" + Expr(d) + ")|" + Filter(Expr(0));
      case 8: return "(" + Expr(d) + " is " + Pick({"", "not "}) + Test() + ")";
      case 9: return "(" + Expr(d) + " if " + Expr(d) + " else " + Expr(d) + ")";
      case 10: return Method(Pick({"s", "'a,b, c'", "text", "u", "empty", "' x '", "messages[1].content"}));
      case 11: return "(" + Expr(d) + ")[" + std::to_string(Rand(7) - 3) + "]";
      case 12: {
        const char* parts[] = {"", "1", "-1", "2", "-2", "0"};
        return "(" + Expr(d) + ")[" + parts[Rand(6)] + ":" + parts[Rand(6)] +
               (Rand(2) ? std::string(":") + Pick({"1", "-1", "2", "-2"}) : "") + "]";
      }
      case 13: return "(" + Expr(d) + ") ** " + std::to_string(Rand(4));
      case 14: return "[" + Expr(d) + "]";
      default: return "(" + Expr(d) + ")|" + Filter(Expr(0)) + "|" + Filter(Expr(0));
    }
  }

  std::mt19937& rng_;
};

// Type-directed expressions (numbers, strings, booleans, lists) that mostly render without
// errors, so outputs (number formatting, string ops, reprs) get compared, not just failures.
class TypedGenerator {
 public:
  explicit TypedGenerator(std::mt19937& rng) : rng_(rng) {}

  std::string Template() {
    std::string out;
    const int parts = 1 + Rand(3);
    for (int i = 0; i < parts; ++i) {
      switch (Rand(7)) {
        case 0:
        case 1: out += "{{ " + Any(3) + " }}"; break;
        case 2:
          out += "{% for x in " + List(2) + " %}{{ loop.index }}:{{ x }}{{ '|' if not loop.last }}{% endfor %}";
          break;
        case 3: out += "{% if " + Bool(2) + " %}[" + Str(2) + "]{% else %}<" + Num(2) + ">{% endif %}"; break;
        case 4:
          out += "{% set ns = namespace(acc=" + Num(1) + ") %}{% for x in " + NumList(1) +
                 " %}{% set ns.acc = ns.acc + x %}{% endfor %}{{ ns.acc }}";
          break;
        case 5: out += "{% set v = " + Any(2) + " %}{{ v }}|{{ v|string|length }}"; break;
        default: out += "{{ " + Str(3) + " }}\n"; break;
      }
    }
    return out;
  }

 private:
  int Rand(int n) { return static_cast<int>(rng_() % static_cast<unsigned>(n)); }
  std::string Pick(std::initializer_list<const char*> options) {
    auto it = options.begin();
    std::advance(it, Rand(static_cast<int>(options.size())));
    return *it;
  }
  std::string SmallInt() { return std::to_string(Rand(12) - 3); }
  std::string Any(int d) {
    switch (Rand(4)) {
      case 0: return Num(d);
      case 1: return Str(d);
      case 2: return Bool(d);
      default: return List(d);
    }
  }
  std::string Num(int d) {
    if (d <= 0) {
      return Rand(2) ? Pick({"0", "1", "7", "-3", "42", "0.5", "2.25", "-1.5", "1e3", "0.1", "3.0"})
                     : Pick({"n", "neg", "f", "third", "d.a", "l[0]", "people[0].age", "l|length"});
    }
    const int k = d - 1;
    switch (Rand(14)) {
      case 0: return Num(0);
      case 1:
      case 2: return "(" + Num(k) + " " + Pick({"+", "-", "*"}) + " " + Num(k) + ")";
      case 3: return "(" + Num(k) + " " + Pick({"/", "//", "%"}) + " " + Pick({"2", "3", "-4", "0.5", "7"}) + ")";
      case 4: return "-(" + Num(k) + ")";
      case 5: return "(" + Num(k) + ")|" + Pick({"abs", "int", "float", "round", "round(1)", "round(2, 'floor')"});
      case 6: return "(" + Str(k) + ")|length";
      case 7: return "(" + List(k) + ")|length";
      case 8: return "(" + NumList(k) + ")|" + Pick({"sum", "min", "max", "first", "last"});
      case 9: return "(" + Num(k) + " if " + Bool(k) + " else " + Num(k) + ")";
      case 10: return "(" + Pick({"2", "3", "-2", "1.5", "n"}) + ") ** " + std::to_string(Rand(4));
      case 11: return "(" + Str(k) + ").count('" + Pick({"a", "l", " ", "o"}) + "')";
      case 12: return "(" + Pick({"'42'", "'3.7'", "' -8 '", "'x'", "'1e2'"}) + ")|" + Pick({"int", "float"});
      default: return "(" + Str(k) + ").find('" + Pick({"l", "o", "z"}) + "')";
    }
  }
  std::string Str(int d) {
    if (d <= 0) {
      return Rand(2) ? Pick({"'abc'", "'Hello, World'", "''", "' pad '", "'a,b,,c'", "'Grüße 👋'",
                             "'x\\ny'", "\"it's\"", "'tab\\there'", "'MiXeD cAsE'"})
                     : Pick({"s", "u", "text", "empty", "messages[1].content", "people[1].name", "strs[0]"});
    }
    const int k = d - 1;
    switch (Rand(18)) {
      case 0: return Str(0);
      case 1: return "(" + Str(k) + " ~ " + Any(k) + ")";
      case 2: return "(" + Str(k) + " + " + Str(k) + ")";
      case 3:
        return "(" + Str(k) + ")|" + Pick({"upper", "lower", "title", "capitalize", "trim", "center(11)",
                                          "replace('l', 'L')", "string", "e", "indent(2)", "truncate(8, true, '', 0)",
                                          "reverse", "tojson"});
      case 4:
        return "(" + Str(k) + ")" + Pick({".upper()", ".lower()", ".strip()", ".title()", ".capitalize()",
                                          ".lstrip('H')", ".rstrip('d')", ".replace('o', '0')", ".zfill(8)",
                                          ".swapcase()", ".center(9, '*')", ".ljust(7, '.')"});
      case 5: return "(" + Num(k) + ")|string";
      case 6: return "(" + List(k) + ")|join('" + Pick({",", " ", "", "-|-"}) + "')";
      case 7: return "(" + Any(k) + ")|tojson";
      case 8: return "(" + Str(k) + ")[" + Pick({"1:", ":-1", "::-1", "1:3", "::2", "-2:"}) + "]";
      case 9: return "(" + Str(k) + ") * " + std::to_string(Rand(3));
      case 10: return "'%s=%d' % (" + Str(k) + ", " + Pick({"n", "42", "-7", "2.9"}) + ")";
      case 11: return "'{}|{}'.format(" + Any(k) + ", " + Any(k) + ")";
      case 12: return "(" + Str(k) + " if " + Bool(k) + " else " + Str(k) + ")";
      case 13: return "(" + Any(k) + ")|string";
      case 14: return "(" + List(k) + ")|string";
      case 15: return "(" + Num(k) + ")|round(" + std::to_string(Rand(3)) + ")|string";
      case 16: return "'{:>8}|{:.3f}'.format(" + Str(0) + ", " + Num(k) + ")";
      default: return "(" + Any(k) + ")|tojson(indent=" + std::to_string(Rand(3)) + ")";
    }
  }
  std::string Bool(int d) {
    if (d <= 0) return Pick({"true", "false", "t", "fa", "none_v is none", "undefined_thing is defined"});
    const int k = d - 1;
    switch (Rand(10)) {
      case 0: return "(" + Num(k) + " " + Pick({"<", ">", "<=", ">=", "==", "!="}) + " " + Num(k) + ")";
      case 1: return "(" + Str(k) + " " + Pick({"<", "==", "!=", "in", "not in"}) + " " + Str(k) + ")";
      case 2:
        return "(" + Any(k) + " is " + Pick({"", "not "}) +
               Pick({"string", "number", "integer", "float", "sequence", "mapping", "iterable",
                     "defined", "none", "boolean", "lower", "upper"}) + ")";
      case 3: return "not (" + Bool(k) + ")";
      case 4: return "(" + Bool(k) + " " + Pick({"and", "or"}) + " " + Bool(k) + ")";
      case 5: return "(" + Num(k) + ")|int is " + Pick({"odd", "even", "divisibleby 3"});
      case 6: return "(" + Num(k) + " in " + NumList(k) + ")";
      case 7: return "(" + Str(k) + ").startswith(" + Pick({"'H'", "'a'", "''", "('x', 'G')"}) + ")";
      case 8: return "(" + List(k) + ")|length > " + SmallInt();
      default: return "(" + Any(k) + ")";
    }
  }
  std::string NumList(int d) {
    if (d <= 0) return Pick({"l", "[1, 2.5, -3]", "[]", "[0]", "range(4)|list", "[7, 7, 1]"});
    const int k = d - 1;
    switch (Rand(6)) {
      case 0: return NumList(0);
      case 1: return "[" + Num(k) + ", " + Num(k) + "]";
      case 2: return "(" + NumList(k) + ")|sort|list";
      case 3: return "(" + NumList(k) + " + " + NumList(k) + ")";
      case 4: return "range(" + std::to_string(Rand(4)) + ", " + std::to_string(Rand(9)) + ")|list";
      default: return "(" + NumList(k) + ")[" + Pick({"1:", "::-1", ":2"}) + "]";
    }
  }
  std::string List(int d) {
    if (d <= 0) return Pick({"l", "strs", "el", "[1, 'a', none]", "people|map(attribute='name')|list", "d|list"});
    const int k = d - 1;
    switch (Rand(12)) {
      case 0: return NumList(k);
      case 1: return "[" + Any(k) + ", " + Any(k) + "]";
      case 2: return "(" + Str(k) + ").split(" + Pick({"','", "", "' '"}) + ")";
      case 3: return "(" + List(k) + ")|" + Pick({"reverse|list", "unique|list", "list", "batch(2)|list"});
      case 4: return "strs|sort" + Pick({"", "(reverse=true)", "(case_sensitive=true)"});
      case 5: return "(" + List(k) + " + " + List(k) + ")";
      case 6: return "people|selectattr('role', 'equalto', " + Pick({"'user'", "'assistant'"}) + ")|map(attribute='name')|list";
      case 7: return "d|dictsort" + Pick({"", "(reverse=true)", "(by='value')"});
      case 8: return "d.items()|list";
      case 9: return "(" + Str(k) + ")|list";
      case 10: return "(" + List(k) + ")|map('string')|map('upper')|list";
      default: return "(" + List(k) + ")[" + Pick({"1:", ":-1", "::-1", "::2"}) + "]";
    }
  }

  std::mt19937& rng_;
};

}  // namespace

std::string GenerateTypedTemplate(std::mt19937& rng) { return TypedGenerator(rng).Template(); }

std::string GenerateTemplate(std::mt19937& rng) { return Generator(rng).Template(); }

}  // namespace pagellm::jinja::testing
