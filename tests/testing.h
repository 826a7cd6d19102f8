// Helpers shared by the test suites: reading JSON Lines fixtures, asserting on error messages,
// random test data, error measures, per-test temporary paths and running a command.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"

namespace clipkit::test_util {

// Every non-empty line of a JSON Lines file, parsed.
inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream f(path);
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// The message of the clipkit::Error that f throws, or "" when it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// n normal floats (mean 0, standard deviation `scale`) from a fixed seed.
inline std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// n floats uniform in [lo, hi) from a fixed seed.
inline std::vector<float> uniform(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// max|a - b| / max|b| (max|a - b| when b is all zero).
inline double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, double(std::fabs(a[i] - b[i])));
    den = std::max(den, double(std::fabs(b[i])));
  }
  return den == 0 ? num : num / den;
}

// A path in the test temp folder unique to the running test (ctest runs the cases of a file as
// separate processes in parallel, so fixed names would collide); anything already there is
// removed.
inline std::string temp_path(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string id = std::string(info->test_suite_name()) + "." + info->name();
  for (char& c : id)
    if (c == '/') c = '_';
  const std::filesystem::path p = std::filesystem::path(::testing::TempDir()) / (id + "." + name);
  std::error_code ec;
  std::filesystem::remove_all(p, ec);
  return p.string();
}

struct CommandResult {
  int status;       // exit status, -1 when the command did not exit normally
  std::string out;  // stdout and stderr
};

// Runs a shell command line with stderr folded into stdout.
inline CommandResult run_command(const std::string& command) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return {-1, ""};
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

}  // namespace clipkit::test_util

// Expects `stmt` to throw a clipkit::Error whose message contains `needle`.
#define EXPECT_ERROR(stmt, needle)                                                      \
  do {                                                                                  \
    const std::string msg_ = ::clipkit::test_util::error_of([&] { stmt; });               \
    EXPECT_NE(msg_.find(needle), std::string::npos) << "message: " << msg_;             \
  } while (0)
