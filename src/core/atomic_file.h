// Writing a file so that readers never see it half-written: data goes to "<path>.tmp", which is
// renamed over `path` only when everything was written and flushed. On failure the temporary is
// removed and an Error names the file (a full disk, a missing folder).
#pragma once

#include <fstream>
#include <functional>
#include <string>

namespace clipkit {

// Calls write(stream) on a temporary file, then moves it into place.
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);

}  // namespace clipkit
