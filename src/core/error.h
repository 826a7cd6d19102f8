// Errors: library code never exits or aborts on bad input. It throws clipkit::Error with a message
// that names the file, tensor, offset or line at fault; the CLI and bindings turn it into a clean
// message and exit status.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace clipkit {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Concatenates its arguments with operator<< into an Error message.
template <typename... Args>
[[noreturn]] void fail(const Args&... args);

}  // namespace clipkit

#include <sstream>

namespace clipkit {
template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  throw Error(os.str());
}
}  // namespace clipkit

// CLIPKIT_CHECK(cond, parts...): throws clipkit::Error built from parts when cond is false.
#define CLIPKIT_CHECK(cond, ...)            \
  do {                                      \
    if (!(cond)) ::clipkit::fail(__VA_ARGS__); \
  } while (0)
