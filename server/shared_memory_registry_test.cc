// The system shared memory registry and the tensors over it, on real POSIX
// shared memory objects made here (tests/python/test_shared_memory.py runs
// the same through tritonclient against `polaris serve`).
#include "server/shared_memory_registry.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "server/shared_memory_io.h"

namespace polaris {
namespace {

// A shared memory object of `size` bytes holding 0, 1, 2, ... (mod 256),
// unlinked when the test ends.
class Object {
 public:
  explicit Object(std::size_t size, const std::string& tag = "")
      : key_("/polaris-shm-test-" + std::to_string(getpid()) + "-" + tag + std::to_string(next_++)) {
    const int fd = shm_open(key_.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
    std::vector<unsigned char> bytes(size);
    for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<unsigned char>(i);
    EXPECT_EQ(write(fd, bytes.data(), size), static_cast<ssize_t>(size));
    close(fd);
  }
  ~Object() { shm_unlink(key_.c_str()); }
  const std::string& key() const { return key_; }

 private:
  static inline int next_ = 0;
  std::string key_;
};

TEST(SharedMemoryRegistry, RegistersListsAndUnregisters) {
  Object object(4096);
  SharedMemoryRegistry registry;
  ASSERT_TRUE(registry.register_region("a", object.key(), 0, 64).ok());
  ASSERT_TRUE(registry.register_region("b", object.key(), 64, 128).ok());
  auto all = registry.status("");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "a");
  EXPECT_EQ((*all)[1].key, object.key());
  EXPECT_EQ((*all)[1].offset, 64u);
  EXPECT_EQ((*all)[1].byte_size, 128u);
  auto one = registry.status("b");
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(registry.status("c").status().code(), StatusCode::kNotFound);
  EXPECT_NE(registry.status("c").status().message().find("Unable to find system shared memory region: 'c'"),
            std::string::npos);

  registry.unregister("a");
  registry.unregister("never-registered");  // not an error, as in Triton
  EXPECT_EQ(registry.size(), 1u);
  registry.unregister("");
  EXPECT_EQ(registry.size(), 0u);
}

TEST(SharedMemoryRegistry, RefusesDuplicatesBadNamesBadKeysAndRangesPastTheObject) {
  Object object(100);
  SharedMemoryRegistry registry;
  ASSERT_TRUE(registry.register_region("r", object.key(), 0, 100).ok());
  const Status duplicate = registry.register_region("r", object.key(), 0, 10);
  EXPECT_EQ(duplicate.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(duplicate.message().find("shared memory region 'r' already in manager"), std::string::npos);

  const Status past = registry.register_region("past", object.key(), 50, 51);
  EXPECT_EQ(past.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(past.message().find("(100 bytes)"), std::string::npos) << past.message();
  EXPECT_EQ(registry.register_region("zero", object.key(), 0, 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.register_region("huge", object.key(), ~uint64_t{0}, 2).code(), StatusCode::kInvalidArgument);

  const Status missing = registry.register_region("m", "/polaris-no-such-object-here", 0, 8);
  EXPECT_EQ(missing.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.message().find("Unable to open shared memory region"), std::string::npos);
  const std::vector<std::string> bad_keys = {"",   "/", "/a/b", "/..", std::string("/a\0b", 4),
                                             "/" + std::string(300, 'k')};
  for (const std::string& key : bad_keys)
    EXPECT_EQ(registry.register_region("k", key, 0, 8).code(), StatusCode::kInvalidArgument) << key;
  const std::vector<std::string> bad_names = {"", "a/b", "a\nb",
                                              std::string(SharedMemoryRegistry::kMaxNameBytes + 1, 'n')};
  for (const std::string& name : bad_names)
    EXPECT_EQ(registry.register_region(name, object.key(), 0, 8).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.size(), 1u);
}

TEST(SharedMemoryRegistry, IsBoundedInRegions) {
  Object object(8);
  SharedMemoryRegistry registry;
  for (std::size_t i = 0; i < SharedMemoryRegistry::kMaxRegions; ++i)
    ASSERT_TRUE(registry.register_region("r" + std::to_string(i), object.key(), 0, 8).ok());
  EXPECT_EQ(registry.register_region("one-more", object.key(), 0, 8).code(), StatusCode::kResourceExhausted);
  registry.unregister("r0");
  EXPECT_TRUE(registry.register_region("one-more", object.key(), 0, 8).ok());
}

TEST(SharedMemoryRegistry, MapsUnalignedOffsetsAndChecksWindows) {
  Object object(10000);
  SharedMemoryRegistry registry;
  ASSERT_TRUE(registry.register_region("r", object.key(), 4099, 100).ok());  // not page-aligned
  auto window = registry.window("r", 1, 10);
  ASSERT_TRUE(window.ok()) << window.status().message();
  EXPECT_EQ(static_cast<unsigned char>(window->data[0]), static_cast<unsigned char>(4100));
  EXPECT_TRUE(registry.window("r", 0, 100).ok());
  EXPECT_TRUE(registry.window("r", 100, 0).ok());
  const Status offset = registry.window("r", 101, 0).status();
  EXPECT_EQ(offset.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(offset.message().find("Invalid offset for shared memory region: 'r'"), std::string::npos);
  const Status size = registry.window("r", 50, 51).status();
  EXPECT_NE(size.message().find("Invalid offset + byte size for shared memory region: 'r'"), std::string::npos);
  EXPECT_EQ(registry.window("r", 1, ~uint64_t{0}).status().code(), StatusCode::kInvalidArgument);  // no overflow
  EXPECT_EQ(registry.window("nope", 0, 1).status().code(), StatusCode::kNotFound);
}

TEST(SharedMemoryRegistry, AWindowOutlivesUnregisterAndUnlink) {
  auto object = std::make_unique<Object>(64);
  SharedMemoryRegistry registry;
  ASSERT_TRUE(registry.register_region("r", object->key(), 0, 64).ok());
  object.reset();  // shm_unlink: the mapping stays (POSIX)
  auto window = registry.window("r", 0, 64);
  ASSERT_TRUE(window.ok());
  registry.unregister("r");
  EXPECT_EQ(static_cast<unsigned char>(window->data[63]), 63);  // still mapped: the window holds the region
  window->data[0] = std::byte{7};
}

TEST(SharedMemoryTensors, InputsAreViewsOfTheRightSizeAndOutputsMustFit) {
  Object object(4096);
  SharedMemoryRegistry registry;
  ASSERT_TRUE(registry.register_region("io", object.key(), 0, 4096).ok());
  const Shape shape{1, 16};
  auto t = tensor_from_shared_memory(&registry, DataType::kInt32, shape, {"io", 64, 64}, "INPUT0");
  ASSERT_TRUE(t.ok()) << t.status().message();
  auto window = registry.window("io", 64, 64);
  EXPECT_EQ(t->data(), static_cast<const void*>(window->data));  // no copy
  EXPECT_FALSE(t->owns_data());

  const Status wrong = tensor_from_shared_memory(&registry, DataType::kInt32, shape, {"io", 0, 60}, "INPUT0").status();
  EXPECT_EQ(wrong.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.message().find("input 'INPUT0': shared_memory_byte_size 60 does not match the 64 bytes"),
            std::string::npos)
      << wrong.message();
  EXPECT_EQ(tensor_from_shared_memory(&registry, DataType::kInt32, shape, {"io", 4090, 64}, "INPUT0").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(tensor_from_shared_memory(&registry, DataType::kInt32, shape, {"x", 0, 64}, "INPUT0").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(tensor_from_shared_memory(nullptr, DataType::kInt32, shape, {"io", 0, 64}, "INPUT0").status().code(),
            StatusCode::kInvalidArgument);
  // BOOL is checked, so copied: bytes 2.. are not 0 or 1.
  EXPECT_EQ(tensor_from_shared_memory(&registry, DataType::kBool, Shape{4}, {"io", 0, 4}, "B").status().code(),
            StatusCode::kInvalidArgument);
  auto ok_bool = tensor_from_shared_memory(&registry, DataType::kBool, Shape{2}, {"io", 0, 2}, "B");
  ASSERT_TRUE(ok_bool.ok());
  EXPECT_NE(ok_bool->data(), static_cast<const void*>(registry.window("io", 0, 2)->data));  // a private copy

  auto out = Tensor::from_values<int32_t>(Shape{2}, {-1, 5});
  ASSERT_TRUE(out.ok());
  auto small = registry.window("io", 0, 4);
  const Status too_small = write_to_shared_memory(*out, *small, "OUTPUT0");
  EXPECT_NE(too_small.message().find("for output 'OUTPUT0' (4 bytes) should be at least 8 bytes"), std::string::npos);
  auto fits = registry.window("io", 8, 8);
  ASSERT_TRUE(write_to_shared_memory(*out, *fits, "OUTPUT0").ok());
  int32_t back[2];
  std::memcpy(back, fits->data, 8);
  EXPECT_EQ(back[0], -1);
  EXPECT_EQ(back[1], 5);
}

TEST(SharedMemoryTensors, ParametersNeedAByteSizeAndNoNegatives) {
  EXPECT_TRUE(shared_memory_ref("r", 8, std::nullopt, "input 'X'").ok());
  EXPECT_EQ(shared_memory_ref("r", std::nullopt, 0, "input 'X'").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(shared_memory_ref("r", -1, 0, "input 'X'").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(shared_memory_ref("r", 8, -4, "input 'X'").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace polaris
