#include "core/utf8.h"

#include <gtest/gtest.h>

namespace polaris {
namespace {

TEST(Utf8, AcceptsUtf8AndRefusesWhatIsNot) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("resnet50"));
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x8C\xBC"));  // é € 🌼
  EXPECT_FALSE(is_valid_utf8("\xFF"));
  EXPECT_FALSE(is_valid_utf8("\xC3"));              // cut short
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xED\xB0\x80"));      // U+DC00, a lone surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("a\x80" "b"));         // a stray continuation byte
}

}  // namespace
}  // namespace polaris
