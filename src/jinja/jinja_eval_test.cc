// Evaluator behaviour: Python operator semantics, printing, truthiness, Undefined, variable
// scoping, loops and the loop object, macros, call blocks, namespaces and other statements.
// Expected values are derived from Python / Jinja2 semantics.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/jinja/jinja_testutil.h"

namespace pagellm::jinja::testing {
namespace {

using ::testing::HasSubstr;

TEST(JinjaPrinting, ValuesPrintLikePythonStr) {
  EXPECT_EQ(RenderOk("{{ true }} {{ False }} {{ none }} {{ 3 }} {{ -0.0 }}"), "True False None 3 -0.0");
  EXPECT_EQ(RenderOk("{{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e15 }} {{ 1e-5 }} {{ 1/3 }}"),
            "0.30000000000000004 1e+16 1000000000000000.0 1e-05 0.3333333333333333");
  EXPECT_EQ(RenderOk("{{ [1, 'a', none, true, 1.5] }}"), "[1, 'a', None, True, 1.5]");
  EXPECT_EQ(RenderOk("{{ {'k': [1], 'q': \"it's\"} }}"), "{'k': [1], 'q': \"it's\"}");
  EXPECT_EQ(RenderOk("{{ (1,) }} {{ (1, 2) }} {{ 1, 2 }} {{ () }}"), "(1,) (1, 2) (1, 2) ()");
  EXPECT_EQ(RenderOk(R"({{ ['a\nb', '\x01'] }})"), R"(['a\nb', '\x01'])");
  EXPECT_EQ(RenderOk("[{{ missing }}]"), "[]");  // printing undefined gives nothing
}

TEST(JinjaOperators, Arithmetic) {
  EXPECT_EQ(RenderOk("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 4 / 2 }}"),
            "3 -4 -2 2 3.5 2.0");
  EXPECT_EQ(RenderOk("{{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }}"), "1024 0.5 64 4");
  EXPECT_EQ(RenderOk("{{ true + 1 }} {{ 1 + 1.5 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}"), "2 2.5 3.0 0.5");
  EXPECT_EQ(RenderOk("{{ 'ab' * 2 }} {{ [0] * 3 }} {{ [1] + [2] }} {{ 'a' ~ 1 ~ none }}"),
            "abab [0, 0, 0] [1, 2] a1None");
  EXPECT_EQ(RenderOk("{{ '%s is %d%%' % ('x', 5) }} {{ '%05.1f' % 3.14159 }}"), "x is 5% 003.1");
}

TEST(JinjaOperators, TypeErrorsAreErrors) {
  EXPECT_THAT(RenderError("{{ 'a' + 1 }}"), HasSubstr("can only concatenate str (not \"int\") to str"));
  EXPECT_THAT(RenderError("{{ 1 / 0 }}"), HasSubstr("division by zero"));
  EXPECT_THAT(RenderError("{{ 1 < 'a' }}"), HasSubstr("'<' not supported between instances of 'int' and 'str'"));
  EXPECT_THAT(RenderError("{{ 1 in 'abc' }}"), HasSubstr("'in <string>' requires string as left operand"));
  EXPECT_THAT(RenderError("{{ 9223372036854775807 + 1 }}"), HasSubstr("integer overflow"));
}

TEST(JinjaOperators, ComparisonsAndLogic) {
  EXPECT_EQ(RenderOk("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ [1, 2] < [1, 3] }} {{ 'a' != 'a' }}"),
            "True False True True False");
  EXPECT_EQ(RenderOk("{{ 0 or 'x' }} {{ 1 and [] }} {{ not 0 }} {{ '' or none }}"), "x [] True None");
  EXPECT_EQ(RenderOk("{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [3] }}"),
            "True True True False");
  EXPECT_EQ(RenderOk("{{ 'y' if 0 else 'n' }}|{{ 'y' if 0 }}|"), "n||");
  // Python truthiness: empty containers and zero are false.
  EXPECT_EQ(RenderOk("{% for v in [0, 0.0, '', [], {}, none, 1, 'x', [0]] %}{{ 'T' if v else 'F' }}{% endfor %}"),
            "FFFFFFTTT");
}

TEST(JinjaAccess, AttributesAndItems) {
  const char* ctx = R"({"m": {"role": "user", "items": 7, "list": [1, 2, 3]}, "s": "héllo"})";
  EXPECT_EQ(RenderOk("{{ m.role }} {{ m['role'] }} {{ m.list[-1] }} {{ m.list.0 }}", ctx), "user user 3 1");
  // obj.attr prefers Python attributes (dict.items is the method), obj['key'] prefers items.
  EXPECT_EQ(RenderOk("{{ m['items'] }} {{ m.items is callable }}", ctx), "7 True");
  EXPECT_EQ(RenderOk("{{ s[1] }}{{ s[-1] }}{{ s[1:3] }}{{ s[::-1] }}{{ s|length }}", ctx), "éoélolléh5");
  EXPECT_EQ(RenderOk("{{ m.list[::2] }} {{ m.list[5:] }} {{ m.list[-2:] }} {{ m.list[::-1] }}", ctx),
            "[1, 3] [] [2, 3] [3, 2, 1]");
  EXPECT_EQ(RenderOk("[{{ m.nope }}][{{ m.list[9] }}][{{ none.x }}]", ctx), "[][][]");
}

TEST(JinjaUndefined, MatchesJinja2DefaultUndefined) {
  // Printing, testing, iterating, length and default() are fine...
  EXPECT_EQ(RenderOk("[{{ x }}] {{ x is defined }} {{ x|length }} {{ x|default('d') }} {{ not x }} {{ x == x }}"),
            "[] False 0 d True True");
  EXPECT_EQ(RenderOk("{% for i in x %}never{% else %}empty{% endfor %} {{ 'a' in x }} {{ x ~ '!' }}"),
            "empty False !");
  // ...but attributes, items, calls and arithmetic fail with the variable's name.
  EXPECT_THAT(RenderError("{{ x.y }}"), HasSubstr("'x' is undefined"));
  EXPECT_THAT(RenderError("{{ x['y'] }}"), HasSubstr("'x' is undefined"));
  EXPECT_THAT(RenderError("{{ x() }}"), HasSubstr("'x' is undefined"));
  EXPECT_THAT(RenderError("{{ x + 1 }}"), HasSubstr("'x' is undefined"));
  EXPECT_THAT(RenderError("{{ m.a.b }}", R"({"m": {}})"), HasSubstr("'dict object' has no attribute 'a'"));
  EXPECT_THAT(RenderError("line 1\n{{ x.y }}"), HasSubstr("(template line 2)"));
}

TEST(JinjaScoping, SetInLoopsAndBlocks) {
  // A loop iteration is its own scope: assignments don't leak out or into the next iteration.
  EXPECT_EQ(RenderOk("{% for i in range(3) %}{% if i == 0 %}{% set x = 5 %}{% endif %}[{{ x }}]{% endfor %}"),
            "[5][][]");
  EXPECT_EQ(RenderOk("{% set x = 1 %}{% for i in range(2) %}{{ x }}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}"),
            "12121");
  EXPECT_EQ(RenderOk("{% if true %}{% set x = 1 %}{% endif %}{{ x }}"), "1");  // if is not a scope
  EXPECT_EQ(RenderOk("{% set x = 1 %}{% with %}{% set x = 2 %}{{ x }}{% endwith %}{{ x }}"), "21");
  EXPECT_EQ(RenderOk("{% set x = 1 %}{% filter upper %}{% set x = 2 %}{% endfilter %}{{ x }}"), "1");
  // namespace() is how templates carry state out of loops.
  EXPECT_EQ(RenderOk("{% set ns = namespace(n=0) %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}"),
            "6");
  EXPECT_THAT(RenderError("{% set d = {} %}{% set d.a = 1 %}"), HasSubstr("non-namespace object"));
}

TEST(JinjaScoping, SetForms) {
  EXPECT_EQ(RenderOk("{% set a, b = 1, 2 %}{{ b }}{{ a }}"), "21");
  EXPECT_EQ(RenderOk("{% set (a, b), c = ([1, 2], 3) %}{{ a }}{{ b }}{{ c }}"), "123");
  EXPECT_EQ(RenderOk("{% set x %}A{{ 1 + 1 }}{% endset %}{{ x }}{{ x|length }}"), "A22");
  EXPECT_EQ(RenderOk("{% set x | upper | replace('B', '-') %}abc{% endset %}{{ x }}"), "A-C");
  EXPECT_THAT(RenderError("{% set a, b = [1] %}"), HasSubstr("not enough values to unpack"));
}

TEST(JinjaLoops, LoopVariable) {
  EXPECT_EQ(RenderOk("{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
                     "{{ loop.first|int }}{{ loop.last|int }}{{ loop.length }} {% endfor %}"),
            "1032103 2121003 3210013 ");
  EXPECT_EQ(RenderOk("{% for x in [1, 2, 3] %}{{ loop.previtem|default('-') }}{{ loop.nextitem|default('-') }} {% endfor %}"),
            "-2 13 2- ");
  EXPECT_EQ(RenderOk("{% for x in range(4) %}{{ loop.cycle('a', 'b', 'c') }}{% endfor %}"), "abca");
  EXPECT_EQ(RenderOk("{% for x in [1, 1, 2, 2] %}{{ loop.changed(x)|int }}{% endfor %}"), "1010");
}

TEST(JinjaLoops, FilterElseBreakContinueUnpackingRecursion) {
  EXPECT_EQ(RenderOk("{% for x in range(10) if x is odd %}{{ x }}/{{ loop.length }} {% endfor %}"),
            "1/5 3/5 5/5 7/5 9/5 ");
  EXPECT_EQ(RenderOk("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(RenderOk("{% for i in range(6) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 4 %}{% break %}{% endif %}{{ i }}{% endfor %}"),
            "023");
  EXPECT_EQ(RenderOk("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"), "a=1;b=2;");
  EXPECT_EQ(RenderOk("{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %}"), "ba");  // insertion order
  EXPECT_EQ(RenderOk("{% for x in [1, [2, [3]]] recursive %}{% if x is iterable %}({{ loop(x) }}){% else %}{{ x }}{{ loop.depth }}{% endif %}{% endfor %}"),
            "11(22(33))");
  // The loop works on a snapshot: rebinding the list inside does not change iteration.
  EXPECT_EQ(RenderOk("{% set l = [1, 2] %}{% for x in l %}{% set l = [] %}{{ x }}{% endfor %}"), "12");
}

TEST(JinjaMacros, ArgumentsDefaultsAndSpecials) {
  EXPECT_EQ(RenderOk("{% macro m(a, b=2) %}{{ a }}-{{ b }}{% endmacro %}{{ m(1) }} {{ m(1, 3) }} {{ m(b=4, a=0) }} [{{ m() }}]"),
            "1-2 1-3 0-4 [-2]");
  EXPECT_EQ(RenderOk("{% macro m(a, b=a * 10) %}{{ b }}{% endmacro %}{{ m(2) }}"), "20");
  EXPECT_EQ(RenderOk("{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, k=3) }}"),
            "1(2,){'k': 3}");
  EXPECT_THAT(RenderError("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}"), HasSubstr("takes not more than 1 argument"));
  EXPECT_THAT(RenderError("{% macro m(a) %}{% endmacro %}{{ m(z=1) }}"), HasSubstr("no keyword argument 'z'"));
  // Macros see the template's variables as they are when called.
  EXPECT_EQ(RenderOk("{% macro m() %}{{ x }}{% endmacro %}{% set x = 1 %}{{ m() }}{% set x = 2 %}{{ m() }}"), "12");
  EXPECT_EQ(RenderOk("{% macro f(n) %}{{ n }}{% if n > 0 %},{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}"),
            "3,2,1,0");
}

TEST(JinjaMacros, CallBlocks) {
  EXPECT_EQ(RenderOk("{% macro box(t) %}[{{ t }}:{{ caller() }}]{% endmacro %}{% call box('x') %}body{% endcall %}"),
            "[x:body]");
  EXPECT_EQ(RenderOk("{% macro each(l) %}{% for i in l %}{{ caller(i) }}{% endfor %}{% endmacro %}"
                     "{% call(v) each([1, 2]) %}<{{ v }}>{% endcall %}"),
            "<1><2>");
}

TEST(JinjaStatements, FilterBlocksWithGenerationPrintAndRaise) {
  EXPECT_EQ(RenderOk("{% filter upper %}a{{ 'b' }}{% endfilter %}"), "AB");
  EXPECT_EQ(RenderOk("{% with a = 2, b = 3 %}{{ a * b }}{% endwith %}[{{ a }}]"), "6[]");
  EXPECT_EQ(RenderOk("{% generation %}kept{% endgeneration %}"), "kept");
  EXPECT_EQ(RenderOk("{% print 'a', 1 %}"), "a1");
  EXPECT_EQ(RenderError("ok{{ raise_exception('Conversation roles must alternate') }}"),
            "Conversation roles must alternate (template line 1)");
}

TEST(JinjaGlobals, RangeDictNamespaceStrftime) {
  EXPECT_EQ(RenderOk("{{ range(3)|list }} {{ range(1, 8, 3)|list }} {{ range(3, 0, -1)|list }}"),
            "[0, 1, 2] [1, 4, 7] [3, 2, 1]");
  EXPECT_EQ(RenderOk("{{ dict(a=1, b=[2]) }} {{ dict({'x': 1}, y=2) }}"), "{'a': 1, 'b': [2]} {'x': 1, 'y': 2}");
  EXPECT_EQ(RenderOk("{% set ns = namespace(a=1) %}{% set ns.b = 2 %}{{ ns.a + ns.b }}"), "3");
  RenderOptions options;
  std::tm tm{};
  tm.tm_year = 2024 - 1900;
  tm.tm_mon = 6;
  tm.tm_mday = 26;
  tm.tm_hour = 12;
  tm.tm_isdst = -1;
  const auto when = std::chrono::system_clock::from_time_t(std::mktime(&tm));  // local time
  options.now = [when] { return when; };
  EXPECT_EQ(RenderOk("{{ strftime_now('%d %b %Y') }}", "", options), "26 Jul 2024");
}

TEST(JinjaSandbox, MutationIsBlockedLikeHfUnlessAllowed) {
  EXPECT_THAT(RenderError("{% set l = [1] %}{{ l.append(2) }}"),
              HasSubstr("access to attribute 'append' of 'list' object is unsafe."));
  EXPECT_THAT(RenderError("{% set d = {} %}{{ d.update({'a': 1}) }}"), HasSubstr("unsafe"));
  EXPECT_EQ(RenderOk("[{{ [1].append }}]"), "[]");  // only calling it fails
  RenderOptions mutable_options;
  mutable_options.immutable_sandbox = false;
  EXPECT_EQ(RenderOk("{% set ns = namespace(l=[]) %}{% for i in range(3) %}{% set _ = ns.l.append(i * i) %}{% endfor %}"
                     "{{ ns.l }} {{ ns.l.pop() }} {{ ns.l }}",
                     "", mutable_options),
            "[0, 1, 4] 4 [0, 1]");
}

}  // namespace
}  // namespace pagellm::jinja::testing
