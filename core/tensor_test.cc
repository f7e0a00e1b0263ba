#include "core/tensor.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace polaris {
namespace {

std::span<const std::byte> as_bytes(const std::string& s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

// A uint32 little-endian length prefix.
std::string prefix(uint32_t len) {
  return std::string{static_cast<char>(len & 0xff), static_cast<char>((len >> 8) & 0xff),
                     static_cast<char>((len >> 16) & 0xff), static_cast<char>((len >> 24) & 0xff)};
}

bool contains(const Status& s, const std::string& part) { return s.message().find(part) != std::string::npos; }

TEST(TensorTest, DefaultIsEmpty) {
  Tensor t;
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.dtype(), DataType::kInvalid);
  EXPECT_EQ(t.byte_size(), 0u);
  EXPECT_FALSE(t.values<float>().ok());
  EXPECT_FALSE(t.strings().ok());
}

TEST(TensorTest, AllocateIsZeroFilledAndOwned) {
  auto t = Tensor::allocate(DataType::kFp32, Shape{2, 3});
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_FALSE(t->empty());
  EXPECT_TRUE(t->owns_data());
  EXPECT_EQ(t->dtype(), DataType::kFp32);
  EXPECT_EQ(t->shape(), (Shape{2, 3}));
  EXPECT_EQ(t->byte_size(), 24u);
  EXPECT_EQ(t->bytes().size(), 24u);
  for (std::byte b : t->bytes()) EXPECT_EQ(b, std::byte{0});
  auto v = t->values<float>();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->size(), 6u);
  for (float f : *v) EXPECT_EQ(f, 0.0f);
}

TEST(TensorTest, AllocateWritesAreShared) {
  auto t = Tensor::allocate(DataType::kInt32, Shape{4});
  ASSERT_TRUE(t.ok());
  Tensor copy = *t;  // copies share the same bytes
  auto mv = t->mutable_values<int32_t>();
  ASSERT_TRUE(mv.ok());
  (*mv)[2] = 7;
  EXPECT_EQ(copy.data(), t->data());
  EXPECT_EQ((*copy.values<int32_t>())[2], 7);
}

TEST(TensorTest, AllocateEdgeCases) {
  auto zero = Tensor::allocate(DataType::kFp32, Shape{0, 5});
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->byte_size(), 0u);
  auto scalar = Tensor::allocate(DataType::kFp64, Shape());
  ASSERT_TRUE(scalar.ok());
  EXPECT_EQ(scalar->byte_size(), 8u);
  EXPECT_FALSE(Tensor::allocate(DataType::kBytes, Shape{2}).ok());
  EXPECT_FALSE(Tensor::allocate(DataType::kInvalid, Shape{2}).ok());
  EXPECT_FALSE(Tensor::allocate(DataType::kFp32, Shape{-1, 3}).ok());
  // Must fail before allocating anything.
  EXPECT_FALSE(Tensor::allocate(DataType::kUint8, Shape{int64_t{1} << 40, int64_t{1} << 40}).ok());
}

TEST(TensorTest, BorrowIsAView) {
  std::vector<float> buffer{1.0f, 2.0f, 3.0f, 4.0f};
  auto t = Tensor::borrow(DataType::kFp32, Shape{2, 2}, buffer.data(), buffer.size() * sizeof(float));
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_FALSE(t->owns_data());
  EXPECT_EQ(t->data(), buffer.data());  // no copy
  buffer[1] = 20.0f;                     // writes through the original are visible
  auto v = t->values<float>();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ((std::vector<float>(v->begin(), v->end())), (std::vector<float>{1.0f, 20.0f, 3.0f, 4.0f}));
  (*t->mutable_values<float>())[3] = 40.0f;  // and writes through the view land in the original
  EXPECT_EQ(buffer[3], 40.0f);
}

TEST(TensorTest, KeepaliveOutlivesOriginalOwner) {
  auto owner = std::make_shared<std::vector<int64_t>>(std::vector<int64_t>{10, 20, 30});
  std::weak_ptr<std::vector<int64_t>> watch = owner;
  Tensor view;
  {
    auto t = Tensor::borrow(DataType::kInt64, Shape{3}, owner->data(), 3 * sizeof(int64_t), owner);
    ASSERT_TRUE(t.ok());
    view = *t;
  }
  owner.reset();
  EXPECT_FALSE(watch.expired());  // the view holds the buffer alive
  auto v = view.values<int64_t>();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ((std::vector<int64_t>(v->begin(), v->end())), (std::vector<int64_t>{10, 20, 30}));
  view = Tensor();
  EXPECT_TRUE(watch.expired());  // and releases it with the last copy
}

TEST(TensorTest, SizeMismatchRejected) {
  std::vector<float> buffer(6);
  auto t = Tensor::borrow(DataType::kFp32, Shape{2, 2}, buffer.data(), 24);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(t.status(), "needs 16 bytes")) << t.status().message();
  EXPECT_TRUE(contains(t.status(), "got 24")) << t.status().message();
  EXPECT_FALSE(Tensor::copy_of(DataType::kFp32, Shape{2, 2}, buffer.data(), 12).ok());
  EXPECT_FALSE(Tensor::from_values(Shape{4}, std::vector<int16_t>{1, 2, 3}).ok());
  EXPECT_FALSE(Tensor::borrow(DataType::kInvalid, Shape{1}, buffer.data(), 4).ok());
  EXPECT_FALSE(Tensor::borrow(DataType::kFp32, Shape{-1}, buffer.data(), 4).ok());
  EXPECT_FALSE(Tensor::borrow(DataType::kFp32, Shape{1}, nullptr, 4).ok());
  EXPECT_TRUE(Tensor::borrow(DataType::kFp32, Shape{0}, nullptr, 0).ok());
}

TEST(TensorTest, CopyOfOwnsACopy) {
  std::vector<uint16_t> src{1, 2, 3};
  auto t = Tensor::copy_of(DataType::kUint16, Shape{3}, src.data(), 6);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->owns_data());
  EXPECT_NE(t->data(), src.data());
  src[0] = 99;
  EXPECT_EQ((*t->values<uint16_t>())[0], 1);
}

TEST(TensorTest, ValuesAreDtypeChecked) {
  auto t = Tensor::from_values(Shape{2}, std::vector<int8_t>{-3, 5});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->dtype(), DataType::kInt8);
  auto ok = t->values<int8_t>();
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)[0], -3);
  EXPECT_EQ((*ok)[1], 5);
  auto wrong = t->values<float>();
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().message(), "tensor holds INT8, not FP32");
  EXPECT_FALSE(t->values<uint8_t>().ok());  // same width, other type
  EXPECT_FALSE(t->mutable_values<uint8_t>().ok());
  EXPECT_FALSE(t->strings().ok());
  auto half = Tensor::from_values(Shape{1}, std::vector<Fp16>{{0x3c00}});
  ASSERT_TRUE(half.ok());
  EXPECT_EQ(half->dtype(), DataType::kFp16);
  EXPECT_EQ((*half->values<Fp16>())[0].bits, 0x3c00);
  EXPECT_FALSE(half->values<Bf16>().ok());
  EXPECT_FALSE(half->values<uint16_t>().ok());
}

TEST(TensorTest, BytesRoundTrip) {
  const std::vector<std::string> in{"hello", "", std::string("a\0b", 3), std::string(300, 'x')};
  auto t = Tensor::from_strings(Shape{2, 2}, in);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(t->dtype(), DataType::kBytes);
  EXPECT_TRUE(t->owns_data());
  EXPECT_EQ(t->byte_size(), 4u * 4 + 5 + 0 + 3 + 300);
  auto out = t->strings();
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_EQ(out->size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) EXPECT_EQ((*out)[i], in[i]) << i;
  EXPECT_FALSE(t->values<uint8_t>().ok());
  // The 300-byte element's prefix is little-endian: 300 = 0x012c.
  EXPECT_EQ(prefix(300), std::string("\x2c\x01\x00\x00", 4));
}

TEST(TensorTest, BytesElementCountMustMatchShape) {
  EXPECT_FALSE(Tensor::from_strings(Shape{3}, {"a", "b"}).ok());
  EXPECT_FALSE(Tensor::from_strings(Shape{1}, {"a", "b"}).ok());
  EXPECT_FALSE(Tensor::from_strings(Shape{-1}, {"a"}).ok());
  auto empty = Tensor::from_strings(Shape{0}, {});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->strings()->empty());
}

TEST(TensorTest, BorrowedBytesAreViews) {
  std::string buffer = prefix(3) + "abc" + prefix(2) + "de";
  auto t = Tensor::borrow(DataType::kBytes, Shape{2}, buffer.data(), buffer.size());
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  auto s = t->strings();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)[0], "abc");
  EXPECT_EQ((*s)[1], "de");
  EXPECT_EQ((*s)[0].data(), buffer.data() + 4);  // views into the buffer
}

TEST(TensorTest, MalformedBytesRejected) {
  struct Case {
    const char* what;
    std::string buffer;
    int64_t count;
  };
  const std::vector<Case> cases{
      {"truncated length prefix", prefix(1) + "a" + std::string("\x01\x00", 2), 2},
      {"length past the end", prefix(10) + "abc", 1},
      {"length near 2^32", prefix(0xffffffffu) + "abc", 1},
      {"too many elements", prefix(1) + "a" + prefix(1) + "b", 1},
      {"too few elements", prefix(1) + "a", 2},
      {"no data at all", "", 1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    std::string copy = c.buffer;
    auto view = Tensor::borrow(DataType::kBytes, Shape{c.count}, copy.data(), copy.size());
    EXPECT_FALSE(view.ok());
    EXPECT_EQ(view.status().code(), StatusCode::kInvalidArgument);
    EXPECT_FALSE(Tensor::copy_of(DataType::kBytes, Shape{c.count}, copy.data(), copy.size()).ok());
    EXPECT_FALSE(parse_bytes_elements(as_bytes(copy), c.count).ok());
  }
}

TEST(ParseBytesTest, Messages) {
  auto truncated = parse_bytes_elements(as_bytes(prefix(0) + "\x01"), 2);
  EXPECT_TRUE(contains(truncated.status(), "truncated inside a length prefix")) << truncated.status().message();
  auto past_end = parse_bytes_elements(as_bytes(prefix(10) + "abc"), 1);
  EXPECT_TRUE(contains(past_end.status(), "claims 10 bytes but only 3 remain")) << past_end.status().message();
  auto too_many = parse_bytes_elements(as_bytes(prefix(0) + prefix(0)), 1);
  EXPECT_TRUE(contains(too_many.status(), "more data than its 1 elements")) << too_many.status().message();
  auto too_few = parse_bytes_elements(as_bytes(prefix(0)), 3);
  EXPECT_TRUE(contains(too_few.status(), "has 1 elements, shape needs 3")) << too_few.status().message();
}

TEST(ParseBytesTest, EmptyElements) {
  auto one_empty = parse_bytes_elements(as_bytes(prefix(0)), 1);
  ASSERT_TRUE(one_empty.ok()) << one_empty.status().to_string();
  ASSERT_EQ(one_empty->size(), 1u);
  EXPECT_EQ((*one_empty)[0], "");
  const std::string mixed = prefix(0) + prefix(2) + "hi" + prefix(0);
  auto three = parse_bytes_elements(as_bytes(mixed), 3);
  ASSERT_TRUE(three.ok()) << three.status().to_string();
  EXPECT_EQ(*three, (std::vector<std::string_view>{"", "hi", ""}));
  auto none = parse_bytes_elements({}, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(parse_bytes_elements({}, 1).ok());  // an empty string is 4 bytes, not 0
}

TEST(ParseBytesTest, SerializeIsTheInverse) {
  const std::vector<std::string_view> elements{"", "x", "hello world"};
  const std::string wire = serialize_bytes_elements(elements);
  EXPECT_EQ(wire, prefix(0) + prefix(1) + "x" + prefix(11) + "hello world");
  auto back = parse_bytes_elements(as_bytes(wire), 3);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, elements);
  EXPECT_EQ(serialize_bytes_elements({}), "");
}

}  // namespace
}  // namespace polaris
