// A load request's files: which keys may name a file, what gets written
// where, and that the folder goes with its last user. Also the config
// given as JSON (Triton's load parameter "config").
#include "runtime/model_override.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/model_config.h"
#include "runtime/model_repository.h"

namespace polaris {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(OverrideFileKeys, AcceptVersionedRelativePaths) {
  EXPECT_EQ(override_file_path("file:1/model.onnx").value(), "1/model.onnx");
  EXPECT_EQ(override_file_path("file:12/weights/data.bin").value(), "12/weights/data.bin");
  EXPECT_EQ(override_file_path("file:3/.hidden").value(), "3/.hidden");
  EXPECT_EQ(override_file_path("file:1/a..b").value(), "1/a..b");
}

TEST(OverrideFileKeys, RefuseEverythingThatCouldLeaveTheFolder) {
  const std::pair<std::string, std::string> cases[] = {
      {"file:", "names no file"},
      {"file:/etc/passwd", "absolute"},
      {"file:../x", "'..' component"},
      {"file:1/../../x", "'..' component"},
      {"file:1/./model.onnx", "'.' component"},
      {"file:1//model.onnx", "empty path component"},
      {"file:1/model.onnx/", "empty path component"},
      {"file:1\\model.onnx", "backslash"},
      {std::string("file:1/model\0.onnx", 18), "control character"},
      {"file:1/model\n.onnx", "control character"},
      {"file:model.onnx", "does not start with a version"},
      {"file:config.pbtxt", "does not start with a version"},
      {"file:0/model.onnx", "does not start with a version"},
      {"file:01/model.onnx", "does not start with a version"},
      {"file:-1/model.onnx", "does not start with a version"},
      {"file:1", "names a version folder"},
      {"file:1/" + std::string(256, 'a'), "longer than 255"},
      {"config", "starts with 'file:'"},
  };
  for (const auto& [key, fragment] : cases) {
    auto path = override_file_path(key);
    ASSERT_FALSE(path.ok()) << key;
    EXPECT_EQ(path.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(path.status().message().find(fragment), std::string::npos) << path.status().message();
    // The message names the key, so a client knows which one to fix.
    EXPECT_NE(path.status().message().find("'" + key.substr(0, 8)), std::string::npos) << path.status().message();
  }
}

// Each test gets its own $TMPDIR, so what it finds there is its own.
class OverrideFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* old = std::getenv("TMPDIR");
    old_tmpdir_ = old != nullptr ? std::optional<std::string>(old) : std::nullopt;
    tmp_ = fs::temp_directory_path() / ("polaris-override-test-" + std::to_string(::getpid()));
    fs::remove_all(tmp_);
    fs::create_directories(tmp_);
    ::setenv("TMPDIR", tmp_.c_str(), 1);
  }
  void TearDown() override {
    if (old_tmpdir_) ::setenv("TMPDIR", old_tmpdir_->c_str(), 1);
    else ::unsetenv("TMPDIR");
    fs::remove_all(tmp_);
  }
  std::size_t entries() const { return std::distance(fs::directory_iterator(tmp_), fs::directory_iterator()); }
  fs::path tmp_;
  std::optional<std::string> old_tmpdir_;
};

TEST_F(OverrideFolder, WritesAPrivateFolderAndRemovesItWithTheLastUser) {
  const std::string onnx("\x08\x07\0binary", 9);
  auto made = OverrideFiles::write("mymodel", {{"file:1/model.onnx", onnx}, {"file:2/sub/labels.txt", "a\nb\n"}});
  ASSERT_TRUE(made.ok()) << made.status().to_string();
  const fs::path root = (*made)->root();
  const fs::path dir = (*made)->model_dir();
  EXPECT_EQ(dir, root / "mymodel");
  EXPECT_EQ(root.parent_path(), tmp_) << "under $TMPDIR";
  EXPECT_TRUE(root.filename().string().starts_with("polaris-override-"));
  struct stat st {};
  ASSERT_EQ(::stat(root.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "only the server's user may read a request's files";
  EXPECT_EQ(read(dir / "1" / "model.onnx"), onnx);
  EXPECT_EQ(read(dir / "2" / "sub" / "labels.txt"), "a\nb\n");

  // It scans like a repository folder.
  inference::ModelConfig config;
  config.mutable_version_policy()->mutable_all();
  RepositoryModel scanned = scan_model_folder(dir.string(), "mymodel", config);
  EXPECT_TRUE(scanned.status.ok() || scanned.status.message().find("no model file") != std::string::npos);
  EXPECT_EQ(scanned.available_versions, (std::vector<int64_t>{1, 2}));

  auto copy = *made;
  made->reset();
  EXPECT_TRUE(fs::exists(dir)) << "a user is left";
  copy.reset();
  EXPECT_FALSE(fs::exists(root));
}

TEST_F(OverrideFolder, ABadKeyWritesNothing) {
  auto made = OverrideFiles::write("m", {{"file:1/model.onnx", "x"}, {"file:1/../../evil", "x"}});
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.status().message().find("file:1/../../evil"), std::string::npos) << made.status().message();
  EXPECT_EQ(entries(), 0u);

  auto nested = OverrideFiles::write("m", {{"file:1/a", "x"}, {"file:1/a/b", "y"}});
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.status().message().find("which is a file"), std::string::npos) << nested.status().message();

  EXPECT_EQ(entries(), 0u) << "a failed write removes its folder";
  for (const char* name : {"..", "a/b", "", "x\\y"})
    EXPECT_FALSE(OverrideFiles::write(name, {}).ok()) << name;
  EXPECT_EQ(entries(), 0u);
}

TEST(ModelConfigJson, ParsesProtobufJsonAndRefusesUnknownFields) {
  auto config = parse_model_config_json(
      R"({"name":"m","max_batch_size":4,"input":[{"name":"a","data_type":"TYPE_FP32","dims":[16]}],
          "dynamic_batching":{"max_queue_delay_microseconds":"100"}})",
      "config");
  ASSERT_TRUE(config.ok()) << config.status().to_string();
  EXPECT_EQ(config->max_batch_size(), 4);
  EXPECT_EQ(config->input(0).dims(0), 16);
  EXPECT_EQ(config->dynamic_batching().max_queue_delay_microseconds(), 100u);
  EXPECT_EQ(parse_model_config_json(R"({"maxBatchSize": 2})", "config")->max_batch_size(), 2);

  auto unknown = parse_model_config_json(R"({"max_batch_sise": 4})", "load parameter 'config'");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("load parameter 'config': "), std::string::npos);
  EXPECT_NE(unknown.status().message().find("max_batch_sise"), std::string::npos) << unknown.status().message();

  EXPECT_FALSE(parse_model_config_json("{not json", "config").ok());
  EXPECT_FALSE(parse_model_config_json(R"({"max_batch_size": "many"})", "config").ok());
  EXPECT_FALSE(parse_model_config_json(std::string(kMaxModelConfigBytes + 1, ' '), "config").ok());
}

}  // namespace
}  // namespace polaris
