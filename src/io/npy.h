// NumPy .npy files (format versions 1.0-3.0): little-endian F32/F64/F16/I32/I64/U8/I8/BOOL arrays
// in C order. Used for embeddings written by `clipkit embed` / `bench --dump` and for benchmark
// inputs, so that other tools (numpy.load) read and write the same files.
#pragma once

#include <string>

#include "core/tensor.h"

namespace clipkit::io {

// Reads a .npy file (C order only; Fortran order and object arrays are refused with an Error
// naming the file). The tensor owns a copy of the data.
Tensor read_npy(const std::string& path);
// Writes a tensor as a version 1.0 .npy file (via a temporary file renamed into place).
void write_npy(const std::string& path, const Tensor& t);

}  // namespace clipkit::io
