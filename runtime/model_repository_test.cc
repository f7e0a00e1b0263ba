// The repository scan on real folders: layouts, version policies, and the
// broken models that must be listed with their reason, not hide the others.
#include "runtime/model_repository.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "runtime/model_config.h"

namespace polaris {
namespace {

namespace fs = std::filesystem;

class ModelRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("polaris-repo-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  void write(const std::string& rel, const std::string& content = "x") {
    const fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content;
  }
  const RepositoryModel& find(const std::vector<RepositoryModel>& models, const std::string& name) {
    for (const auto& m : models)
      if (m.name == name) return m;
    ADD_FAILURE() << "no model " << name;
    static const RepositoryModel kNone;
    return kNone;
  }

  fs::path root_;
};

TEST_F(ModelRepositoryTest, TritonLayoutWithAndWithoutConfig) {
  write("densenet/config.pbtxt", "name: \"densenet\"\nplatform: \"onnxruntime_onnx\"\nmax_batch_size: 4\n");
  write("densenet/1/model.onnx");
  write("digits/2/model.pt");
  write("digits/10/model.pt");
  write("digits/notes/README");  // not a version folder
  auto models = scan_repository(root_.string());
  ASSERT_TRUE(models.ok()) << models.status().to_string();
  ASSERT_EQ(models->size(), 2u);
  const auto& densenet = find(*models, "densenet");
  EXPECT_TRUE(densenet.status.ok()) << densenet.status.to_string();
  EXPECT_TRUE(densenet.has_config);
  EXPECT_EQ(densenet.config.max_batch_size(), 4);
  ASSERT_EQ(densenet.versions.size(), 1u);
  EXPECT_EQ(densenet.versions[0].path, (root_ / "densenet/1/model.onnx").string());
  const auto& digits = find(*models, "digits");
  EXPECT_FALSE(digits.has_config);
  EXPECT_EQ(digits.available_versions, (std::vector<int64_t>{2, 10}));  // numeric order, not text
  ASSERT_EQ(digits.versions.size(), 1u);
  EXPECT_EQ(digits.versions[0].version, 10);  // default policy: the latest
}

TEST_F(ModelRepositoryTest, OneModelFolderIsScannedAlone) {
  write("digits/3/model.pt");
  write(".hidden/1/model.onnx");
  auto digits = scan_repository_model(root_.string(), "digits");
  ASSERT_TRUE(digits.ok()) << digits.status().to_string();
  ASSERT_TRUE(digits->has_value());
  EXPECT_EQ((*digits)->versions.at(0).version, 3);
  EXPECT_FALSE(scan_repository_model(root_.string(), "absent")->has_value());
  EXPECT_FALSE(scan_repository_model(root_.string(), ".hidden")->has_value());
  EXPECT_EQ(scan_repository_model(root_.string(), "../etc").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(scan_repository_model((root_ / "nope").string(), "digits").status().code(), StatusCode::kNotFound);
}

TEST_F(ModelRepositoryTest, VersionPolicies) {
  const std::vector<int64_t> available{3, 1, 7, 5};
  inference::ModelVersionPolicy none;
  EXPECT_EQ(select_versions(none, available), (std::vector<int64_t>{7}));
  inference::ModelVersionPolicy latest;
  latest.mutable_latest()->set_num_versions(2);
  EXPECT_EQ(select_versions(latest, available), (std::vector<int64_t>{5, 7}));
  inference::ModelVersionPolicy all;
  all.mutable_all();
  EXPECT_EQ(select_versions(all, available), (std::vector<int64_t>{1, 3, 5, 7}));
  inference::ModelVersionPolicy specific;
  specific.mutable_specific()->add_versions(3);
  specific.mutable_specific()->add_versions(9);  // absent: skipped
  EXPECT_EQ(select_versions(specific, available), (std::vector<int64_t>{3}));
}

TEST_F(ModelRepositoryTest, PolicyFromConfigAndDefaultModelFilename) {
  write("m/config.pbtxt", "version_policy: { all: {} }\ndefault_model_filename: \"net.onnx\"\n");
  write("m/1/net.onnx");
  write("m/2/net.onnx");
  auto models = scan_repository(root_.string());
  ASSERT_TRUE(models.ok());
  const auto& m = find(*models, "m");
  ASSERT_TRUE(m.status.ok()) << m.status.to_string();
  ASSERT_EQ(m.versions.size(), 2u);
  EXPECT_EQ(fs::path(m.versions[1].path).filename(), "net.onnx");
}

TEST_F(ModelRepositoryTest, BrokenModelsAreListedWithTheirReason) {
  write("good/1/model.onnx");
  write("typo/config.pbtxt", "max_batch_sise: 4\n");
  write("typo/1/model.onnx");
  write("empty/config.pbtxt", "");
  fs::create_directories(root_ / "noversion/1");
  fs::create_directories(root_ / "nofolders");
  write("renamed/config.pbtxt", "name: \"other\"\n");
  write("renamed/1/model.onnx");
  write("escape/config.pbtxt", "default_model_filename: \"../../etc/passwd\"\n");
  write("escape/1/model.onnx");
  write("bad name!/1/model.onnx");
  auto models = scan_repository(root_.string());
  ASSERT_TRUE(models.ok());
  EXPECT_TRUE(find(*models, "good").status.ok());
  auto reason = [&](const std::string& name) { return find(*models, name).status.message(); };
  EXPECT_NE(reason("typo").find("max_batch_sise"), std::string::npos) << reason("typo");
  EXPECT_NE(reason("typo").find(":1:"), std::string::npos) << "line number";
  EXPECT_NE(reason("empty").find("no version folder"), std::string::npos) << reason("empty");
  EXPECT_NE(reason("noversion").find("no model file"), std::string::npos) << reason("noversion");
  EXPECT_NE(reason("nofolders").find("no version folder"), std::string::npos);
  EXPECT_NE(reason("renamed").find("must match the folder"), std::string::npos);
  EXPECT_NE(reason("escape").find("plain file name"), std::string::npos);
  EXPECT_NE(reason("bad name!").find("may only hold"), std::string::npos);
}

TEST_F(ModelRepositoryTest, ModelNamesCannotWalkOutOfTheRepository) {
  EXPECT_TRUE(validate_model_name("resnet50_v1.5-int8").ok());
  for (const char* bad : {"", ".", "..", "../x", "a/b", "a\\b", "x\n", "a b"})
    EXPECT_EQ(validate_model_name(bad).code(), StatusCode::kInvalidArgument) << bad;
  EXPECT_FALSE(validate_model_name(std::string(256, 'a')).ok());
}

TEST_F(ModelRepositoryTest, MissingRepositoryIsNotFound) {
  auto models = scan_repository((root_ / "nope").string());
  EXPECT_EQ(models.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace polaris
