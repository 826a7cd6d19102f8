// Loading a list of image files into one [N, 3, S, S] float32 batch: decode, (EXIF transpose,)
// resize, crop and normalise each file on the workers of ThreadPool::global(), writing straight
// into its row of the batch. A file that fails is reported by name: the whole call fails, or, with
// skip_bad, the file is left out with a warning and the batch keeps the others in input order.
//
// load_batch uses ThreadPool::global().parallel_for, which runs one job at a time: do not call it
// from inside a task of that pool.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "image/decode.h"
#include "image/preprocess.h"

namespace clipkit::image {

struct BatchFailure {
  size_t index = 0;     // position in the input list
  std::string path;
  std::string message;  // names the file
};

struct BatchOptions {
  PreprocessOptions preprocess;
  DecodeOptions decode;
  // false: any failure throws one Error listing every failed file. true: failed files are left
  // out of the batch, listed in Batch::failures and passed to on_skip.
  bool skip_bad = false;
  // Also return the uint8 RGB crops (Batch::uint8).
  bool keep_uint8 = false;
  // Called once per skipped file (on the calling thread, after loading); default: a warning on
  // stderr.
  std::function<void(const BatchFailure&)> on_skip;
};

struct Batch {
  Tensor pixels;  // F32 [n, 3, S, S], n = loaded files
  Tensor uint8;   // U8 [n, S, S, 3] when keep_uint8, else undefined
  std::vector<size_t> indices;     // input position of each row
  std::vector<std::string> paths;  // path of each row
  std::vector<BatchFailure> failures;
};

Batch load_batch(const std::vector<std::string>& paths, const BatchOptions& opts);

}  // namespace clipkit::image
