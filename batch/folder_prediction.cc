#include "batch/folder_prediction.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "batch/sample_loading.h"

namespace polaris::batch {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Sample {
  std::string file;
  Tensor tensor;
};

// Samples stack when they agree on dtype and shape; BYTES never do (their
// bytes are not fixed-size rows).
bool stackable(const std::vector<Sample>& samples) {
  for (const auto& s : samples)
    if (s.tensor.dtype() == DataType::kBytes || s.tensor.dtype() != samples[0].tensor.dtype() ||
        s.tensor.shape() != samples[0].tensor.shape())
      return false;
  return true;
}

// [N, ...sample shape] holding the samples in order; with_batch_dim false
// (an input without one) only for a single sample.
Result<Tensor> stack(const std::vector<Sample>& samples, bool with_batch_dim) {
  const Tensor& first = samples[0].tensor;
  if (!with_batch_dim) return Tensor::copy_of(first.dtype(), first.shape(), first.data(), first.byte_size());
  std::vector<int64_t> dims = first.shape().dims();
  dims.insert(dims.begin(), static_cast<int64_t>(samples.size()));
  POLARIS_ASSIGN_OR_RETURN(Tensor out, Tensor::allocate(first.dtype(), Shape(dims)));
  auto* dst = static_cast<std::byte*>(out.mutable_data());
  for (const auto& s : samples) {
    std::memcpy(dst, s.tensor.data(), s.tensor.byte_size());
    dst += s.tensor.byte_size();
  }
  return out;
}

// Row `row` of a batched output, as [1, ...] (fixed-size dtypes only).
Result<Tensor> row_of(const Tensor& t, int64_t row, int64_t rows) {
  if (rows == 1 || t.dtype() == DataType::kBytes)
    return Tensor::copy_of(t.dtype(), t.shape(), t.data(), t.byte_size());
  std::vector<int64_t> dims = t.shape().dims();
  if (dims.empty() || dims[0] != rows) return InvalidArgument("output has no batch dim to split");
  const std::size_t row_bytes = t.byte_size() / static_cast<std::size_t>(rows);
  dims[0] = 1;
  return Tensor::copy_of(t.dtype(), Shape(dims), static_cast<const std::byte*>(t.data()) + row * row_bytes, row_bytes);
}

class Runner {
 public:
  Runner(const TensorInfo& input, const RunFunction& run, const FolderPredictionOptions& options)
      : input_(input), run_(run), options_(options), with_batch_dim_(input.shape.rank() != 3) {}

  // Results for one batch of loaded samples, in their order: one engine
  // call for the stacked batch, or one per sample if the engine refuses it
  // (or the samples do not stack), so only a bad sample fails.
  std::vector<FileResult> run_batch(std::vector<Sample>& samples) {
    std::vector<FileResult> results;
    if (samples.size() > 1 && stackable(samples)) {
      if (auto outputs = run_stacked(samples); outputs.ok()) {
        for (std::size_t i = 0; i < samples.size(); ++i)
          results.push_back(result(samples[i].file, *outputs, i, samples.size()));
        return results;
      }
    }
    for (auto& s : samples) {
      std::vector<Sample> one;
      one.push_back(std::move(s));
      auto outputs = run_stacked(one);
      results.push_back(outputs.ok() ? result(one[0].file, *outputs, 0, 1)
                                     : FileResult{one[0].file,
                                                  Status(outputs.status().code(),
                                                         one[0].file + ": " + outputs.status().message()),
                                                  {}, {}, {}});
    }
    return results;
  }

 private:
  Result<NamedTensors> run_stacked(const std::vector<Sample>& samples) {
    POLARIS_ASSIGN_OR_RETURN(Tensor batch, stack(samples, with_batch_dim_));
    NamedTensors inputs;
    inputs.push_back({input_.name, std::move(batch)});
    return run_(inputs, options_.outputs);
  }

  FileResult result(const std::string& file, const NamedTensors& outputs, std::size_t row, std::size_t rows) {
    FileResult result{file, Status::Ok(), {}, {}, {}};
    for (const auto& out : outputs) {
      auto sample_out = with_batch_dim_ ? row_of(out.tensor, static_cast<int64_t>(row), static_cast<int64_t>(rows))
                                        : Tensor::copy_of(out.tensor.dtype(), out.tensor.shape(), out.tensor.data(),
                                                          out.tensor.byte_size());
      if (!sample_out.ok()) {
        result.status = Internal(file + ": output '" + out.name + "': " + sample_out.status().message());
        break;
      }
      for (ClassScore& score : top_k(*sample_out, options_.top_k, options_.labels)) {
        if (score.row != 0) continue;
        result.top_k.push_back(std::move(score));
        result.top_k_outputs.push_back(out.name);
      }
      if (options_.keep_outputs) result.outputs.push_back({out.name, std::move(*sample_out)});
    }
    return result;
  }

  const TensorInfo& input_;
  const RunFunction& run_;
  const FolderPredictionOptions& options_;
  const bool with_batch_dim_;
};

}  // namespace

Result<FolderListing> list_folder(const std::string& folder, bool recursive) {
  std::error_code ec;
  const auto status = fs::status(folder, ec);
  if (ec || !fs::exists(status)) return NotFound("no folder " + folder);
  if (!fs::is_directory(status)) return InvalidArgument(folder + " is not a folder");
  FolderListing listing;
  auto take = [&](const fs::directory_entry& entry) {
    std::error_code e;
    if (!entry.is_regular_file(e)) return;
    const std::string path = entry.path().string();
    (sample_kind(path) == SampleKind::kOther ? listing.skipped : listing.files).push_back(path);
  };
  if (recursive) {
    for (fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec), end;
         !ec && it != end; it.increment(ec))
      take(*it);
  } else {
    for (fs::directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
         it.increment(ec))
      take(*it);
  }
  if (ec) return InvalidArgument(fmt::format("cannot list {}: {}", folder, ec.message()));
  std::sort(listing.files.begin(), listing.files.end());
  std::sort(listing.skipped.begin(), listing.skipped.end());
  return listing;
}

int effective_batch_size(const TensorInfo& input, int requested) {
  const auto& dims = input.shape.dims();
  if (dims.size() == 3) return 1;                 // no batch dim
  if (!dims.empty() && dims[0] > 0) return 1;     // exported for a fixed batch
  return std::max(1, requested);
}

Result<FolderPredictionSummary> predict_files(const std::vector<std::string>& files, const TensorInfo& input,
                                              const ImagePreprocessing& preprocessing, const RunFunction& run,
                                              const FolderPredictionOptions& options,
                                              const std::function<void(const FileResult&)>& on_result,
                                              const std::function<void(const Progress&)>& on_progress) {
  if (options.batch_size < 1 || options.batch_size > 4096)
    return InvalidArgument(fmt::format("batch size {} is not from 1 to 4096", options.batch_size));
  if (options.top_k < 0) return InvalidArgument("top-k must not be negative");
  const auto start = Clock::now();
  const int batch_size = effective_batch_size(input, options.batch_size);
  Runner runner(input, run, options);
  FolderPredictionSummary summary;
  Progress progress{0, static_cast<int64_t>(files.size()), 0, 0};
  std::vector<Sample> batch;
  std::vector<FileResult> unreadable;  // with the position they go to
  std::vector<std::size_t> unreadable_at;
  std::size_t next = 0;
  while (next < files.size() && !(options.should_stop && options.should_stop())) {
    batch.clear();
    unreadable.clear();
    unreadable_at.clear();
    for (; next < files.size() && batch.size() < static_cast<std::size_t>(batch_size); ++next) {
      auto sample = load_sample(files[next], preprocessing);
      if (!sample.ok()) {
        unreadable_at.push_back(batch.size() + unreadable.size());
        unreadable.push_back(FileResult{files[next], sample.status(), {}, {}, {}});
        continue;
      }
      batch.push_back({files[next], std::move(*sample)});
    }
    std::vector<FileResult> results = runner.run_batch(batch);
    for (std::size_t i = 0; i < unreadable.size(); ++i)  // back into file order
      results.insert(results.begin() + static_cast<std::ptrdiff_t>(unreadable_at[i]), std::move(unreadable[i]));
    for (const auto& r : results) {
      progress.failed += r.status.ok() ? 0 : 1;
      on_result(r);
    }
    progress.done = static_cast<int64_t>(next);
    progress.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (on_progress) on_progress(progress);
  }
  summary.failed = progress.failed;
  summary.processed = progress.done - progress.failed;
  summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return summary;
}

}  // namespace polaris::batch
