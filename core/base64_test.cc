#include "core/base64.h"

#include <gtest/gtest.h>

namespace polaris {
namespace {

TEST(Base64, DecodesWithAndWithoutPadding) {
  EXPECT_EQ(decode_base64("").value(), "");
  EXPECT_EQ(decode_base64("QQ==").value(), "A");
  EXPECT_EQ(decode_base64("QUI=").value(), "AB");
  EXPECT_EQ(decode_base64("QUJD").value(), "ABC");
  EXPECT_EQ(decode_base64("AP8A/w==").value(), std::string("\0\xff\0\xff", 4));
  EXPECT_EQ(decode_base64("+/+/").value(), "\xfb\xff\xbf");
}

TEST(Base64, RefusesWhatOpenSslWouldLetThrough) {
  for (const char* bad : {"QQ", "QQ=", "Q=Q=", " QUJD", "QUJD\n", "QU JD", "QUJ*", "QUJD====", "=QUJ", "-_-_"}) {
    auto r = decode_base64(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
      EXPECT_NE(r.status().message().find("base64"), std::string::npos) << r.status().message();
    }
  }
}

TEST(Base64, LargeInputsDecodeAcrossPieces) {
  // More than one of the decoder's 64 MiB pieces would be slow here; a long
  // run of a known pattern checks the bookkeeping instead.
  std::string encoded;
  for (int i = 0; i < 100000; ++i) encoded += "QUJD";
  auto decoded = decode_base64(encoded);
  ASSERT_TRUE(decoded.ok());
  ASSERT_EQ(decoded->size(), 300000u);
  EXPECT_EQ(decoded->substr(299997), "ABC");
}

}  // namespace
}  // namespace polaris
