#include "core/shape.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

namespace polaris {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// The element count of a shape that must be valid.
int64_t count_of(const Shape& s) {
  auto r = s.element_count();
  EXPECT_TRUE(r.ok()) << s.to_string() << ": " << r.status().to_string();
  return r.ok() ? *r : -1;
}

void expect_invalid(const Shape& s) {
  auto r = s.element_count();
  EXPECT_FALSE(r.ok()) << s.to_string() << " gave " << (r.ok() ? *r : 0);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << s.to_string();
  EXPECT_FALSE(s.validate_concrete().ok()) << s.to_string();
}

TEST(ShapeTest, Accessors) {
  Shape s{1, 3, 224, 224};
  EXPECT_EQ(s.rank(), 4u);
  EXPECT_EQ(s[0], 1);
  EXPECT_EQ(s[3], 224);
  EXPECT_EQ(s.dims(), (std::vector<int64_t>{1, 3, 224, 224}));
  EXPECT_EQ(s, Shape(std::vector<int64_t>{1, 3, 224, 224}));
  EXPECT_NE(s, (Shape{1, 3, 224}));
  EXPECT_NE(s, (Shape{1, 3, 224, 225}));
}

TEST(ShapeTest, ElementCount) {
  EXPECT_EQ(count_of(Shape{1, 3, 224, 224}), 150528);
  EXPECT_EQ(count_of(Shape{7}), 7);
  EXPECT_EQ(count_of(Shape{2, 1, 1, 5}), 10);
}

TEST(ShapeTest, ScalarHasOneElement) {
  Shape scalar;
  EXPECT_EQ(scalar.rank(), 0u);
  EXPECT_FALSE(scalar.is_dynamic());
  EXPECT_EQ(count_of(scalar), 1);
  auto bytes = scalar.byte_size(DataType::kFp64);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, 8u);
  EXPECT_TRUE(scalar.validate_concrete().ok());
}

TEST(ShapeTest, ZeroDimensionsGiveZeroElements) {
  EXPECT_EQ(count_of(Shape{0}), 0);
  EXPECT_EQ(count_of(Shape{4, 0, 3}), 0);
  // A zero before a huge dim: the product is 0, nothing can overflow.
  EXPECT_EQ(count_of(Shape{0, kInt64Max}), 0);
  auto bytes = Shape{0, 16}.byte_size(DataType::kFp32);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, 0u);
}

TEST(ShapeTest, NegativeAndDynamicDimsRejected) {
  EXPECT_TRUE((Shape{-1, 1000}).is_dynamic());
  EXPECT_TRUE((Shape{3, -1}).is_dynamic());
  EXPECT_FALSE((Shape{3, 4}).is_dynamic());
  expect_invalid(Shape{-1, 1000});
  expect_invalid(Shape{3, -1});
  expect_invalid(Shape{-2});
  expect_invalid(Shape{0, -1});
  auto r = Shape{-1, 1000}.element_count();
  EXPECT_NE(r.status().message().find("[-1,1000]"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("dynamic"), std::string::npos) << r.status().message();
}

TEST(ShapeTest, ElementCountBound) {
  // Exactly 2^48 elements is allowed; one more is not.
  EXPECT_EQ(count_of(Shape{Shape::kMaxElements}), Shape::kMaxElements);
  EXPECT_EQ(count_of(Shape{int64_t{1} << 24, int64_t{1} << 24}), Shape::kMaxElements);
  expect_invalid(Shape{Shape::kMaxElements + 1});
  expect_invalid(Shape{(int64_t{1} << 24) + 1, int64_t{1} << 24});
  expect_invalid(Shape{Shape::kMaxElements, 2});
}

TEST(ShapeTest, OverflowRejectedInsteadOfWrapping) {
  // 2^80 would wrap a 64-bit product to 0.
  expect_invalid(Shape{int64_t{1} << 40, int64_t{1} << 40});
  // 2^64 wraps to exactly 0 as well.
  expect_invalid(Shape{int64_t{1} << 32, int64_t{1} << 32});
  expect_invalid(Shape{kInt64Max, 2});
  expect_invalid(Shape{2, kInt64Max});
  expect_invalid(Shape{kInt64Max});
  expect_invalid(Shape{kInt64Max, kInt64Max, kInt64Max});
  // Many moderate dims whose product overflows only at the end.
  expect_invalid(Shape(std::vector<int64_t>(20, 16)));  // 2^80
  auto r = Shape{int64_t{1} << 40, int64_t{1} << 40}.element_count();
  EXPECT_NE(r.status().message().find("2^48"), std::string::npos) << r.status().message();
}

TEST(ShapeTest, RankAboveLimitRejected) {
  EXPECT_EQ(count_of(Shape(std::vector<int64_t>(Shape::kMaxRank, 1))), 1);
  expect_invalid(Shape(std::vector<int64_t>(Shape::kMaxRank + 1, 1)));
  expect_invalid(Shape(std::vector<int64_t>(1000, 1)));
  auto r = Shape(std::vector<int64_t>(33, 1)).element_count();
  EXPECT_NE(r.status().message().find("rank 33"), std::string::npos) << r.status().message();
}

TEST(ShapeTest, ByteSize) {
  auto fp32 = Shape{1, 3, 224, 224}.byte_size(DataType::kFp32);
  ASSERT_TRUE(fp32.ok());
  EXPECT_EQ(*fp32, 150528u * 4);
  auto i8 = Shape{5, 7}.byte_size(DataType::kInt8);
  ASSERT_TRUE(i8.ok());
  EXPECT_EQ(*i8, 35u);
  auto f16 = Shape{5, 7}.byte_size(DataType::kFp16);
  ASSERT_TRUE(f16.ok());
  EXPECT_EQ(*f16, 70u);
  // The largest tensor: 2^48 FP64 elements is 2^51 bytes, no overflow.
  auto big = Shape{Shape::kMaxElements}.byte_size(DataType::kFp64);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(*big, std::size_t{1} << 51);
}

TEST(ShapeTest, ByteSizeOverflowRejected) {
  // 2^62 elements * 8 bytes would wrap size_t to 0.
  auto r = Shape{int64_t{1} << 62}.byte_size(DataType::kFp64);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(Shape(std::vector<int64_t>(16, 256)).byte_size(DataType::kUint64).ok());  // 2^128
  EXPECT_FALSE(Shape({-1, 4}).byte_size(DataType::kFp32).ok());
}

TEST(ShapeTest, ByteSizeNeedsFixedSizeType) {
  auto bytes = Shape{2, 2}.byte_size(DataType::kBytes);
  EXPECT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bytes.status().message().find("BYTES"), std::string::npos) << bytes.status().message();
  EXPECT_FALSE(Shape({2, 2}).byte_size(DataType::kInvalid).ok());
}

TEST(ShapeTest, MatchesWithWildcards) {
  const Shape pattern{-1, 3, -1, -1};
  EXPECT_TRUE((Shape{1, 3, 224, 224}).matches(pattern));
  EXPECT_TRUE((Shape{8, 3, 1, 1}).matches(pattern));
  EXPECT_TRUE((Shape{0, 3, 0, 0}).matches(pattern));
  EXPECT_FALSE((Shape{1, 4, 224, 224}).matches(pattern));
  EXPECT_TRUE((Shape{2, 5}).matches(Shape{2, 5}));
  EXPECT_FALSE((Shape{2, 5}).matches(Shape{5, 2}));
  EXPECT_TRUE(Shape().matches(Shape()));
  // A concrete pattern dim is not matched by a dynamic one.
  EXPECT_FALSE((Shape{-1, 5}).matches(Shape{2, 5}));
}

TEST(ShapeTest, MatchesRequiresSameRank) {
  EXPECT_FALSE((Shape{1, 3, 224}).matches(Shape{-1, 3, -1, -1}));
  EXPECT_FALSE((Shape{1, 3, 224, 224, 1}).matches(Shape{-1, 3, -1, -1}));
  EXPECT_FALSE(Shape().matches(Shape{-1}));
  EXPECT_FALSE((Shape{1}).matches(Shape()));
}

TEST(ShapeTest, ToString) {
  EXPECT_EQ((Shape{1, 3, 224, 224}).to_string(), "[1,3,224,224]");
  EXPECT_EQ((Shape{-1, 1000}).to_string(), "[-1,1000]");
  EXPECT_EQ((Shape{7}).to_string(), "[7]");
  EXPECT_EQ(Shape().to_string(), "[]");
  EXPECT_EQ((Shape{kInt64Max}).to_string(), "[9223372036854775807]");
}

}  // namespace
}  // namespace polaris
