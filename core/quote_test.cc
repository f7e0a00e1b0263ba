#include "core/quote.h"

#include <gtest/gtest.h>

namespace polaris {
namespace {

TEST(Quoted, ShortTextsAreQuotedWhole) {
  EXPECT_EQ(in_quotes("INPUT0"), "'INPUT0'");
  EXPECT_EQ(in_quotes(""), "''");
  EXPECT_EQ(in_quotes(std::string(kQuotedMaxBytes, 'a')), "'" + std::string(kQuotedMaxBytes, 'a') + "'");
}

TEST(Quoted, LongTextsAreCutAndSayTheirLength) {
  const std::string name(20000, 'x');
  const std::string q = in_quotes(name);
  EXPECT_EQ(q, "'" + std::string(kQuotedMaxBytes, 'x') + "...' (20000 bytes)");
  EXPECT_LT(q.size(), 200u);
}

TEST(Quoted, NeverCutsInsideAUtf8Character) {
  // "é" is two bytes: a cut at an odd byte would split one.
  std::string name;
  for (int i = 0; i < 100; ++i) name += "\xc3\xa9";
  const std::string q = in_quotes(name, 7);
  EXPECT_EQ(q, "'\xc3\xa9\xc3\xa9\xc3\xa9...' (200 bytes)");
}

TEST(ClipMessage, KeepsShortMessagesAndBoundsLongOnes) {
  EXPECT_EQ(clip_message("model 'x' is not found"), "model 'x' is not found");
  const std::string long_message = "input '" + std::string(50000, 'n') + "' is unknown";
  const std::string clipped = clip_message(long_message);
  EXPECT_LE(clipped.size(), kClientMessageMaxBytes);
  EXPECT_EQ(clipped.rfind("input 'nnn", 0), 0u);
  EXPECT_NE(clipped.find("(message cut at 2048 of 50019 bytes)"), std::string::npos) << clipped;
}

}  // namespace
}  // namespace polaris
