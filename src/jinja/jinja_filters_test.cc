// Built-in filters, tests and Python methods, with expected values derived from Jinja2's filter
// documentation and Python's str / list / dict semantics.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/jinja/jinja_testutil.h"

namespace pagellm::jinja::testing {
namespace {

using ::testing::HasSubstr;

constexpr const char* kPeople = R"({"people": [{"name": "Ann", "age": 31, "role": "user"},
                                               {"name": "bob", "age": 25, "role": "assistant"},
                                               {"name": "Cid", "age": 40, "role": "user"}]})";

TEST(JinjaFilters, Strings) {
  EXPECT_EQ(RenderOk("[{{ '  a b \n'|trim }}][{{ 'xxaxx'|trim('x') }}]"), "[a b][a]");
  EXPECT_EQ(RenderOk("{{ 'hello WORLD'|upper }} {{ 'HeLLo'|lower }} {{ 'hELLO wORLD'|capitalize }}"),
            "HELLO WORLD hello Hello world");
  // title capitalizes after spaces, '-', '(', '{', '[', '<' (not after apostrophes).
  EXPECT_EQ(RenderOk("{{ \"they're x-ray (test)\"|title }}"), "They're X-Ray (Test)");
  EXPECT_EQ(RenderOk("{{ 'a-b-a'|replace('a', 'x') }} {{ 'aaa'|replace('a', 'b', 2) }}"), "x-b-x bba");
  EXPECT_EQ(RenderOk("[{{ 'ab'|center(6) }}][{{ 'abc'|center(6) }}]"), "[  ab  ][ abc  ]");
  EXPECT_EQ(RenderOk("{{ 'a\nb\n\nc'|indent(2) }}|{{ 'a\nb'|indent(2, true) }}|{{ 'a\n\nb'|indent('> ', blank=true) }}"),
            "a\n  b\n\n  c|  a\n  b|a\n> \n> b");
  EXPECT_EQ(RenderOk("{{ 'one two-three  four'|wordcount }}"), "4");
  EXPECT_EQ(RenderOk("{{ 'a<b>&\"\\''|e }} {{ '<p>Hi <b>x</b></p> &amp;'|striptags }}"),
            "a&lt;b&gt;&amp;&#34;&#39; Hi x &");
  EXPECT_EQ(RenderOk("{{ 'The quick brown fox'|truncate(12) }}|{{ 'The quick brown fox'|truncate(12, true) }}"),
            "The...|The quick...");
  EXPECT_EQ(RenderOk("{{ '%s + %s'|format(1, 'x') }}"), "1 + x");
}

TEST(JinjaFilters, NumbersAndConversions) {
  EXPECT_EQ(RenderOk("{{ '42'|int }} {{ '3.9'|int }} {{ 'x'|int }} {{ 'x'|int(-1) }} {{ 'ff'|int(base=16) }} {{ 3.9|int }}"),
            "42 3 0 -1 255 3");
  EXPECT_EQ(RenderOk("{{ '2.5'|float }} {{ 2|float }} {{ 'x'|float }}"), "2.5 2.0 0.0");
  EXPECT_EQ(RenderOk("{{ -3|abs }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.567|round(2) }} {{ 2.1|round(0, 'ceil') }} {{ 5|round }}"),
            "3 2.0 4.0 2.57 3.0 5");
  EXPECT_EQ(RenderOk("{{ 5|string }}{{ none|string }}{{ [1]|string }}"), "5None[1]");
}

TEST(JinjaFilters, DefaultFirstLastLength) {
  EXPECT_EQ(RenderOk("{{ x|default('d') }} {{ none|default('d') }} {{ ''|default('d', true) }} {{ 0|d(5, boolean=true) }}"),
            "d None d 5");
  EXPECT_EQ(RenderOk("{{ [1, 2, 3]|first }} {{ [1, 2, 3]|last }} {{ 'abc'|first }} [{{ []|first }}]"), "1 3 a []");
  EXPECT_EQ(RenderOk("{{ 'héllo'|length }} {{ [1, 2]|count }} {{ {'a': 1}|length }}"), "5 2 1");
}

TEST(JinjaFilters, Sequences) {
  EXPECT_EQ(RenderOk("{{ [3, 1, 2]|sort }} {{ ['b', 'A', 'a']|sort }} {{ ['b', 'A', 'a']|sort(case_sensitive=true) }} {{ [1, 3, 2]|sort(reverse=true) }}"),
            "[1, 2, 3] ['A', 'a', 'b'] ['A', 'a', 'b'] [3, 2, 1]");
  EXPECT_EQ(RenderOk("{{ people|sort(attribute='age')|map(attribute='name')|join(',') }}", kPeople), "bob,Ann,Cid");
  EXPECT_EQ(RenderOk("{{ people|sort(attribute='role,name')|map(attribute='name')|join(',') }}", kPeople), "bob,Ann,Cid");
  EXPECT_EQ(RenderOk("{{ [1, 2, 3]|join('-') }} {{ people|join(', ', attribute='name') }}", kPeople), "1-2-3 Ann, bob, Cid");
  EXPECT_EQ(RenderOk("{{ [1, 1, 'a', 'A', 2]|unique|list }} {{ ['a', 'A']|unique(case_sensitive=true)|list }}"),
            "[1, 'a', 2] ['a', 'A']");
  EXPECT_EQ(RenderOk("{{ [3, 1, 2]|reverse|list }} {{ 'abc'|reverse }} {{ 'ab'|list }}"), "[2, 1, 3] cba ['a', 'b']");
  EXPECT_EQ(RenderOk("{{ [1, 2, 3]|sum }} {{ people|sum(attribute='age') }} {{ [2, 1]|min }} {{ ['a', 'B']|max }}", kPeople),
            "6 96 1 B");
  EXPECT_EQ(RenderOk("{{ people|min(attribute='age') }}", kPeople), "{'name': 'bob', 'age': 25, 'role': 'assistant'}");
  EXPECT_EQ(RenderOk("{{ [1, 2, 3, 4, 5]|batch(2)|list }} {{ [1, 2, 3]|batch(2, 0)|list }} {{ [1, 2, 3, 4]|slice(3)|list }}"),
            "[[1, 2], [3, 4], [5]] [[1, 2], [3, 0]] [[1, 2], [3], [4]]");
  EXPECT_EQ(RenderOk("{{ {'b': 1, 'A': 2, 'a': 3}|dictsort }} {{ {'x': 2, 'y': 1}|dictsort(by='value') }}"),
            "[('A', 2), ('a', 3), ('b', 1)] [('y', 1), ('x', 2)]");
  EXPECT_EQ(RenderOk("{{ {'a': 1}|items|list }} {{ x|items|list }}"), "[('a', 1)] []");
}

TEST(JinjaFilters, SelectRejectMap) {
  EXPECT_EQ(RenderOk("{{ people|selectattr('role', 'equalto', 'user')|map(attribute='name')|list }}", kPeople),
            "['Ann', 'Cid']");
  EXPECT_EQ(RenderOk("{{ people|rejectattr('age', 'gt', 30)|map(attribute='name')|first }}", kPeople), "bob");
  EXPECT_EQ(RenderOk("{{ [1, 2, 3, 4]|select('odd')|list }} {{ [1, 2, 3, 4]|reject('gt', 2)|list }} {{ [0, 1, '', 'x']|select|list }}"),
            "[1, 3] [1, 2] [1, 'x']");
  EXPECT_EQ(RenderOk("{{ ['a', 'b']|map('upper')|join }} {{ [{'x': {'y': 1}}, {}]|map(attribute='x.y', default=0)|list }}"),
            "AB [1, 0]");
  EXPECT_EQ(RenderOk("{{ none|map('upper')|list }} {{ 0|select|list }}"), "[] []");  // falsy input: empty
}

TEST(JinjaFilters, ToJsonMatchesHfJsonDumps) {
  // HF's tojson: json.dumps(ensure_ascii=False), no HTML escaping, insertion order kept.
  EXPECT_EQ(RenderOk("{{ {'b': 1, 'a': [true, none, 1.5, 'é<&>']}|tojson }}"),
            "{\"b\": 1, \"a\": [true, null, 1.5, \"\xC3\xA9<&>\"]}");
  EXPECT_EQ(RenderOk("{{ {'a': [1, {}], 'b': []}|tojson(indent=2) }}"),
            "{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": []\n}");
  EXPECT_EQ(RenderOk("{{ {'a': 1, 'b': 2}|tojson(separators=(',', ':')) }} {{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}"),
            "{\"a\":1,\"b\":2} {\"a\": 2, \"b\": 1}");
  EXPECT_EQ(RenderOk("{{ 'é\n\"\\\\'|tojson }} {{ 'é'|tojson(ensure_ascii=true) }} {{ 1e20|tojson }}"),
            "\"\xC3\xA9\\n\\\"\\\\\" \"\\u00e9\" 1e+20");
  EXPECT_THAT(RenderError("{{ x|tojson }}"), HasSubstr("Object of type Undefined is not JSON serializable"));
}

TEST(JinjaFilters, UnknownFilterFailsOnlyWhenEvaluated) {
  EXPECT_THAT(RenderError("{{ 1|nosuchfilter }}"), HasSubstr("No filter named 'nosuchfilter'"));
  EXPECT_EQ(RenderOk("{% if false %}{{ 1|nosuchfilter }}{% endif %}ok"), "ok");
}

TEST(JinjaTests, BuiltinTests) {
  EXPECT_EQ(RenderOk("{{ 3 is odd }} {{ 3 is even }} {{ 9 is divisibleby 3 }} {{ 2 is in [1, 2] }} {{ 'ab' is lower }} {{ 'AB' is upper }}"),
            "True False True True True True");
  EXPECT_EQ(RenderOk("{{ x is defined }} {{ x is undefined }} {{ none is none }} {{ 1 is number }} {{ true is number }} {{ true is integer }}"),
            "False True True True True False");
  EXPECT_EQ(RenderOk("{{ 1.0 is float }} {{ 'a' is string }} {{ {} is mapping }} {{ [] is sequence }} {{ 'a' is iterable }} {{ 3 is iterable }}"),
            "True True True True True False");
  EXPECT_EQ(RenderOk("{{ true is boolean }} {{ 1 is boolean }} {{ false is false }} {{ range is callable }} {{ 2 is eq 2 }} {{ 2 is gt 1 }} {{ 2 is le 1 }}"),
            "True False True True True True False");
  EXPECT_EQ(RenderOk("{{ 'x' is not string }} {{ not 'x' is string }} {{ 'upper' is filter }} {{ 'odd' is test }}"),
            "False False True True");
  EXPECT_THAT(RenderError("{{ 1 is nosuchtest }}"), HasSubstr("No test named 'nosuchtest'"));
}

TEST(JinjaMethods, StringMethods) {
  EXPECT_EQ(RenderOk("{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a b c'.rsplit(' ', 1) }}"),
            "['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b c'] ['a b', 'c']");
  EXPECT_EQ(RenderOk("[{{ '  x '.strip() }}][{{ '\n\nx\n'.lstrip('\n') }}][{{ 'xyz'.rstrip('z') }}]"), "[x][x\n][xy]");
  EXPECT_EQ(RenderOk("{{ 'Hi'.startswith('H') }} {{ 'Hi'.startswith(('x', 'Hi')) }} {{ 'Hi'.endswith('i') }} {{ 'Hi'.upper() }} {{ 'Hi'.lower() }}"),
            "True True True HI hi");
  EXPECT_EQ(RenderOk("{{ 'abcabc'.find('c') }} {{ 'abcabc'.rfind('c') }} {{ 'abc'.find('z') }} {{ 'aaa'.count('a') }} {{ 'abc'.replace('b', 'B') }}"),
            "2 5 -1 3 aBc");
  EXPECT_EQ(RenderOk("{{ '{} and {name}'.format(1, name='x') }} {{ '{:>4}|{:.2f}'.format('a', 2) }} {{ ', '.join(['a', 'b']) }}"),
            "1 and x    a|2.00 a, b");
  EXPECT_EQ(RenderOk("{{ 'x\ny\r\nz'.splitlines() }} {{ 'they\\'re'.title() }} {{ '42'.isdigit() }} {{ 'ab'.zfill(4) }}"),
            "['x', 'y', 'z'] They'Re True 00ab");
  EXPECT_EQ(RenderOk("{{ '<think>a</think>\n\nb'.split('</think>')[-1].lstrip('\n') }}"), "b");
}

TEST(JinjaMethods, DictAndListMethods) {
  const char* ctx = R"({"d": {"a": 1, "b": 2}})";
  EXPECT_EQ(RenderOk("{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 0) }} {{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }}", ctx),
            "1 None 0 ['a', 'b'] [1, 2] [('a', 1), ('b', 2)]");
  EXPECT_EQ(RenderOk("{{ [1, 2, 2].index(2) }} {{ [1, 2, 2].count(2) }}"), "1 2");
  EXPECT_THAT(RenderError("{{ 'abc'.nomethod() }}"), HasSubstr("'str object' has no attribute 'nomethod'"));
}

}  // namespace
}  // namespace pagellm::jinja::testing
