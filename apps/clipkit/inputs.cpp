#include "inputs.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "core/error.h"

namespace clipkit::app {

namespace fs = std::filesystem;

std::vector<std::string> collect_texts(const std::vector<std::string>& texts,
                                       const std::string& text_file) {
  std::vector<std::string> out = texts;
  if (text_file.empty()) return out;
  std::ifstream file;
  std::istream* in = &std::cin;
  if (text_file != "-") {
    file.open(text_file, std::ios::binary);
    CLIPKIT_CHECK(bool(file), "cannot open text file '", text_file, "'");
    in = &file;
  }
  std::string line;
  while (std::getline(*in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

std::vector<std::string> collect_images(const std::vector<std::string>& images,
                                        const std::string& image_dir, bool recursive) {
  std::vector<std::string> out = images;
  if (image_dir.empty()) return out;
  std::error_code ec;
  CLIPKIT_CHECK(fs::is_directory(image_dir, ec), "--image-dir '", image_dir, "' is not a folder");
  static const char* kExt[] = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp",
                               ".tif", ".tiff", ".heic", ".heif", ".avif"};
  std::vector<std::string> found;
  auto consider = [&](const fs::directory_entry& e) {
    if (!e.is_regular_file()) return;
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const char* k : kExt)
      if (ext == k) {
        found.push_back(e.path().string());
        return;
      }
  };
  if (recursive) {
    for (const auto& e : fs::recursive_directory_iterator(image_dir)) consider(e);
  } else {
    for (const auto& e : fs::directory_iterator(image_dir)) consider(e);
  }
  std::sort(found.begin(), found.end());
  out.insert(out.end(), found.begin(), found.end());
  return out;
}

Progress::Progress(std::string label) : label_(std::move(label)), tty_(isatty(2)) {}

Progress::~Progress() {
  if (drawn_) std::fputc('\n', stderr);
}

void Progress::update(size_t done, size_t total) {
  if (!tty_ || total == 0) return;
  const int width = 30;
  const int filled = int(double(done) / double(total) * width);
  std::fprintf(stderr, "\r%s [%.*s%*s] %zu/%zu", label_.c_str(), filled,
               "##############################", width - filled, "", done, total);
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace clipkit::app
