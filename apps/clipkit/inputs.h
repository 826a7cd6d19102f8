// Shared command-line input handling: collecting texts and image paths from options, files and
// folders, and a progress bar for long runs.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace clipkit::app {

// Texts from --text values followed by the lines of --text-file ("-" = standard input).
std::vector<std::string> collect_texts(const std::vector<std::string>& texts,
                                       const std::string& text_file);
// Image paths from --image values followed by the image files of --image-dir (sorted, by
// extension: jpg jpeg png webp gif bmp tif tiff heic heif avif), recursively when asked.
std::vector<std::string> collect_images(const std::vector<std::string>& images,
                                        const std::string& image_dir, bool recursive = false);

// A one-line progress bar on standard error, drawn only when it is a terminal.
class Progress {
 public:
  explicit Progress(std::string label);
  ~Progress();
  void update(size_t done, size_t total);

 private:
  std::string label_;
  bool tty_;
  bool drawn_ = false;
};

}  // namespace clipkit::app
