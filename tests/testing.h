// Helpers shared by the test suites: reading JSON Lines fixtures and asserting on error messages.
#pragma once

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
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

}  // namespace clipkit::test_util

// Expects `stmt` to throw a clipkit::Error whose message contains `needle`.
#define EXPECT_ERROR(stmt, needle)                                                      \
  do {                                                                                  \
    const std::string msg_ = ::clipkit::test_util::error_of([&] { stmt; });               \
    EXPECT_NE(msg_.find(needle), std::string::npos) << "message: " << msg_;             \
  } while (0)
