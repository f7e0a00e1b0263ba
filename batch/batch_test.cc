// Folder prediction against the real EfficientNet-Lite0 (ONNX Runtime) and
// real photos (scikit-learn's china.jpg and flower.jpg), with broken files
// beside them.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "backends/registry.h"
#include "batch/folder_prediction.h"
#include "batch/image_preprocessing.h"
#include "batch/result_writers.h"
#include "batch/sample_loading.h"
#include "core/class_scores.h"
#include "core/npy.h"

namespace polaris::batch {
namespace {

namespace fs = std::filesystem;
const std::string kModels = POLARIS_MODELS_DIR;
const std::string kLite = kModels + "/efficientnet_lite0/efficientnet_lite0.onnx";

class FolderPredictionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kLite)) << "no generated models: run scripts/make-models";
    ASSERT_TRUE(fs::exists(std::string(POLARIS_SAMPLE_IMAGES_DIR) + "/flower.jpg")) << "no sample photos";
    folder_ = fs::temp_directory_path() / ("polaris-batch-" + std::to_string(::getpid()));
    fs::remove_all(folder_);
    fs::create_directories(folder_);
    for (const char* name : {"china.jpg", "flower.jpg"})
      fs::copy_file(fs::path(POLARIS_SAMPLE_IMAGES_DIR) / name, folder_ / name);
    // A truncated JPEG, a text file named like an image, a file to skip.
    std::ifstream in(folder_ / "flower.jpg", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(folder_ / "cut.jpg", std::ios::binary) << bytes.substr(0, 600);
    std::ofstream(folder_ / "notes.jpg") << "not an image";
    std::ofstream(folder_ / "README.txt") << "skipped";

    BackendConfig config;
    config.threads.intra_op = 1;
    registry_ = std::make_unique<BackendRegistry>(config, POLARIS_MODULE_DIR);
    auto model = registry_->load(kLite, {});
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    model_ = std::move(*model);
    labels_ = load_labels(find_labels_file(kLite));
  }
  void TearDown() override { fs::remove_all(folder_); }

  RunFunction run() {
    return [this](const NamedTensors& in, const std::vector<std::string>& out) { return model_->run(in, out); };
  }
  ImagePreprocessing lite() { return preprocessing_for(model_->metadata().inputs[0], {}, "efficientnet-lite").value(); }

  std::vector<FileResult> predict(const std::vector<std::string>& files, int batch_size,
                                  std::vector<Progress>* progress = nullptr) {
    FolderPredictionOptions options;
    options.batch_size = batch_size;
    options.labels = labels_;
    std::vector<FileResult> results;
    auto summary = predict_files(
        files, model_->metadata().inputs[0], lite(), run(), options,
        [&](const FileResult& r) { results.push_back(r); },
        [&](const Progress& p) {
          if (progress) progress->push_back(p);
        });
    EXPECT_TRUE(summary.ok()) << summary.status().to_string();
    return results;
  }
  static const FileResult& result_for(const std::vector<FileResult>& results, const std::string& name) {
    auto it = std::find_if(results.begin(), results.end(),
                           [&](const FileResult& r) { return fs::path(r.file).filename() == name; });
    EXPECT_NE(it, results.end()) << name;
    return *it;
  }

  fs::path folder_;
  std::unique_ptr<BackendRegistry> registry_;
  std::unique_ptr<Model> model_;
  std::vector<std::string> labels_;
};

TEST_F(FolderPredictionTest, ThePhotosAreClassifiedAndBadFilesAreSkippedWithTheirReason) {
  auto listing = list_folder(folder_.string());
  ASSERT_TRUE(listing.ok());
  ASSERT_EQ(listing->files.size(), 4u);
  ASSERT_EQ(listing->skipped.size(), 1u);
  EXPECT_EQ(fs::path(listing->skipped[0]).filename(), "README.txt");

  std::vector<Progress> progress;
  auto results = predict(listing->files, 3, &progress);
  ASSERT_EQ(results.size(), 4u);
  const auto& flower = result_for(results, "flower.jpg");
  ASSERT_TRUE(flower.status.ok()) << flower.status.to_string();
  ASSERT_EQ(flower.top_k.size(), 5u);
  EXPECT_EQ(flower.top_k[0].index, 985);
  EXPECT_EQ(flower.top_k[0].label, "daisy");
  const auto& china = result_for(results, "china.jpg");
  ASSERT_TRUE(china.status.ok());
  EXPECT_TRUE(std::any_of(china.top_k.begin(), china.top_k.begin() + 3,
                          [](const ClassScore& s) { return s.label == "palace"; }));
  for (const char* bad : {"cut.jpg", "notes.jpg"}) {
    const auto& r = result_for(results, bad);
    EXPECT_FALSE(r.status.ok()) << bad;
    EXPECT_NE(r.status.message().find(bad), std::string::npos) << r.status.message();
  }
  ASSERT_FALSE(progress.empty());
  for (std::size_t i = 1; i < progress.size(); ++i) EXPECT_GT(progress[i].done, progress[i - 1].done);
  EXPECT_EQ(progress.back().done, 4);
  EXPECT_EQ(progress.back().total, 4);
  EXPECT_EQ(progress.back().failed, 2);
}

TEST_F(FolderPredictionTest, BatchSizesOneAndThreeGiveTheSameScores) {
  auto listing = list_folder(folder_.string()).value();
  auto one = predict(listing.files, 1), three = predict(listing.files, 3);
  ASSERT_EQ(one.size(), three.size());
  for (std::size_t i = 0; i < one.size(); ++i) {
    ASSERT_EQ(one[i].file, three[i].file);
    ASSERT_EQ(one[i].status.ok(), three[i].status.ok());
    ASSERT_EQ(one[i].top_k.size(), three[i].top_k.size());
    for (std::size_t k = 0; k < one[i].top_k.size(); ++k) {
      EXPECT_EQ(one[i].top_k[k].index, three[i].top_k[k].index);
      EXPECT_NEAR(one[i].top_k[k].score, three[i].top_k[k].score, 1e-4);
    }
  }
}

TEST_F(FolderPredictionTest, OpenCvPreprocessingIsCloseToThePilReferenceSample) {
  // samples/flower.npy was made with PIL (antialiased bilinear); OpenCV's
  // INTER_AREA resize differs by a few levels per pixel, never in the class.
  auto ours = load_sample((folder_ / "flower.jpg").string(), lite());
  ASSERT_TRUE(ours.ok()) << ours.status().to_string();
  auto reference = read_npy(kModels + "/efficientnet_lite0/samples/flower.npy");
  ASSERT_TRUE(reference.ok());
  ASSERT_EQ(ours->shape(), Shape({3, 224, 224}));
  auto a = ours->values<float>().value();
  auto b = reference->values<float>().value();
  ASSERT_EQ(a.size(), b.size());
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += std::abs(a[i] - b[i]);
  EXPECT_LT(sum / a.size(), 0.05);  // mean |diff| under 6.4 pixel levels (std 128)
}

TEST_F(FolderPredictionTest, NpyFilesAreSamplesToo) {
  fs::path npy = folder_ / "npy";
  fs::create_directories(npy);
  for (const char* name : {"china.npy", "flower.npy"})  // saved as [1,3,224,224]
    fs::copy_file(fs::path(kModels) / "efficientnet_lite0/samples" / name, npy / name);
  auto results = predict(list_folder(npy.string()).value().files, 8);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(result_for(results, "flower.npy").top_k.at(0).label, "daisy");
  EXPECT_EQ(result_for(results, "china.npy").top_k.at(0).label, "palace");
}

TEST_F(FolderPredictionTest, AnImageTooLargeToDecodeIsRefusedBeforeItIsAllocated) {
  // 11000 x 10000 pixels: over the 100-megapixel limit, but a small PNG.
  // OpenCV read the limit when it loaded: ctest sets it (CMakeLists.txt).
  if (!std::getenv("OPENCV_IO_MAX_IMAGE_PIXELS")) GTEST_SKIP() << "run with OPENCV_IO_MAX_IMAGE_PIXELS=100000000";
  cv::Mat huge(10000, 11000, CV_8UC3, cv::Scalar(0, 0, 0));
  ASSERT_TRUE(cv::imwrite((folder_ / "huge.png").string(), huge));
  huge.release();
  auto sample = load_sample((folder_ / "huge.png").string(), lite());
  ASSERT_FALSE(sample.ok());
  EXPECT_NE(sample.status().message().find("huge.png"), std::string::npos);
}

TEST(ImagePreprocessing, ComesFromTheInputShapeTheConfigAndPresets) {
  TensorInfo nhwc{"x", DataType::kUint8, Shape({-1, 300, 320, 3}), {}};
  auto p = preprocessing_for(nhwc, {{"polaris.preprocess", "unit"}});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->layout, Layout::kNhwc);
  EXPECT_EQ(p->crop_height, 300);
  EXPECT_EQ(p->crop_width, 320);
  EXPECT_EQ(p->dtype, DataType::kUint8);
  auto custom = preprocessing_for(TensorInfo{"x", DataType::kFp32, Shape({-1, 3, -1, -1}), {}},
                                  {{"polaris.preprocess.mean", "1,2,3"}, {"polaris.preprocess.crop", "100"},
                                   {"polaris.preprocess.color", "bgr"}});
  ASSERT_TRUE(custom.ok()) << custom.status().to_string();
  EXPECT_EQ(custom->mean[2], 3);
  EXPECT_EQ(custom->crop_height, 100);
  EXPECT_FALSE(custom->rgb);
  EXPECT_FALSE(preset("cifar").ok());
  EXPECT_FALSE(preprocessing_for(TensorInfo{"x", DataType::kInt64, Shape({-1, 3, 224, 224}), {}}, {}).ok());
  EXPECT_FALSE(preprocessing_for(TensorInfo{"x", DataType::kFp32, Shape({-1, 16}), {}}, {}).ok());
  EXPECT_FALSE(preprocessing_for(nhwc, {{"polaris.preprocess.std", "0"}}).ok());
  EXPECT_FALSE(preprocessing_for(nhwc, {{"polaris.preprocess.mean", "1,x,3"}}).ok());
}

TEST(ResultWriters, CsvQuotingAndTheRenameOnFinish) {
  EXPECT_EQ(csv_field("plain.jpg"), "plain.jpg");
  EXPECT_EQ(csv_field("a,b.jpg"), "\"a,b.jpg\"");
  EXPECT_EQ(csv_field("say \"hi\".jpg"), "\"say \"\"hi\"\".jpg\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
  const fs::path out = fs::temp_directory_path() / ("polaris-results-" + std::to_string(::getpid()) + ".csv");
  auto writer = ResultWriter::open(out.string(), ResultFormat::kCsv);
  ASSERT_TRUE(writer.ok());
  FileResult r{"a,b.jpg", Status::Ok(), {ClassScore{0, 7, 0.5, "seven"}}, {"logits"}, {}};
  ASSERT_TRUE((*writer)->write(r).ok());
  EXPECT_FALSE(fs::exists(out));  // only the .partial until finish()
  ASSERT_TRUE((*writer)->finish().ok());
  std::ifstream in(out);
  std::string header, row;
  std::getline(in, header);
  std::getline(in, row);
  EXPECT_EQ(header, "file,rank,index,label,score,error");
  EXPECT_EQ(row, "\"a,b.jpg\",1,7,seven,0.5,");
  fs::remove(out);
  EXPECT_EQ(format_for_path("x.jsonl").value(), ResultFormat::kJsonLines);
  EXPECT_FALSE(format_for_path("x.txt").ok());
}

}  // namespace
}  // namespace polaris::batch
