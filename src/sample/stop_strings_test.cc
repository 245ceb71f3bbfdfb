// Tests for stop-string matching and stream hold-back.
#include "src/sample/stop_strings.h"

#include <vector>

#include "gtest/gtest.h"

namespace pagellm {
namespace {

TEST(StopStringsTest, FindsMatchesThatSpanOldAndNewText) {
  const std::vector<std::string> stops = {"\n\n", "The End"};
  // "The E" was older text; "nd" arrived now.
  auto m = FindStopString("once. The End", 11, stops);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->pos, 6u);
  EXPECT_EQ(m->stop_index, 1u);
  // A match wholly inside old text is not reported again.
  EXPECT_FALSE(FindStopString("a\n\nb", 3, stops).has_value());
  EXPECT_FALSE(FindStopString("nothing here", 0, stops).has_value());
}

TEST(StopStringsTest, EarliestMatchWins) {
  const std::vector<std::string> stops = {"cd", "bc"};
  auto m = FindStopString("abcd", 0, stops);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->pos, 1u);
  EXPECT_EQ(m->stop_index, 1u);
}

TEST(StopStringsTest, HoldBackAndUtf8SafeCuts) {
  const std::vector<std::string> stops = {"ab", "abcd"};
  EXPECT_EQ(StopHoldBack(stops, false), 3u);
  EXPECT_EQ(StopHoldBack(stops, true), 0u);
  EXPECT_EQ(StopHoldBack({}, false), 0u);
  const std::string s = "a\xC3\xA9z";  // a é z
  EXPECT_EQ(Utf8SafePrefix(s, 2), 1u);  // would cut é in half
  EXPECT_EQ(Utf8SafePrefix(s, 3), 3u);
  EXPECT_EQ(Utf8SafePrefix(s, 10), 4u);
}

}  // namespace
}  // namespace pagellm
