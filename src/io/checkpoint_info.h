// A description of a loaded checkpoint for people and tools (`clipkit info`): layout, where the
// architecture came from, the towers' sizes, dtypes and parameter counts.
#pragma once

#include <string>

#include "io/checkpoint.h"

namespace clipkit::io {

// One JSON object (see checkpoint_info.cpp for the fields), pretty-printed.
std::string checkpoint_summary_json(const Checkpoint& ck);
// The same as aligned "key: value" lines.
std::string checkpoint_summary_text(const Checkpoint& ck);

}  // namespace clipkit::io
