#include "io/npy.h"

#include <cstdio>
#include <cstring>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/mapped_file.h"

namespace clipkit::io {

namespace {

const char* descr_of(DType t) {
  switch (t) {
    case DType::F64: return "<f8";
    case DType::F32: return "<f4";
    case DType::F16: return "<f2";
    case DType::I64: return "<i8";
    case DType::I32: return "<i4";
    case DType::I16: return "<i2";
    case DType::I8: return "|i1";
    case DType::U8: return "|u1";
    case DType::BOOL: return "|b1";
    case DType::BF16: return nullptr;
  }
  return nullptr;
}

bool dtype_of(const std::string& d, DType* out) {
  static const struct {
    const char* descr;
    DType t;
  } kTable[] = {{"<f8", DType::F64}, {"<f4", DType::F32}, {"<f2", DType::F16},
                {"<i8", DType::I64}, {"<i4", DType::I32}, {"<i2", DType::I16},
                {"|i1", DType::I8},  {"|u1", DType::U8},  {"|b1", DType::BOOL}};
  for (const auto& e : kTable)
    if (d == e.descr) {
      *out = e.t;
      return true;
    }
  return false;
}

// Extracts the value text of `key` from the header's Python dict literal.
std::string dict_value(const std::string& header, const std::string& key, const std::string& path) {
  const std::string k = "'" + key + "'";
  size_t p = header.find(k);
  if (p == std::string::npos) fail(path, ": .npy header has no '", key, "'");
  p = header.find(':', p + k.size());
  if (p == std::string::npos) fail(path, ": malformed .npy header");
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  size_t e = p;
  if (p < header.size() && header[p] == '(') {
    e = header.find(')', p);
    if (e == std::string::npos) fail(path, ": malformed shape in .npy header");
    return header.substr(p, e - p + 1);
  }
  while (e < header.size() && header[e] != ',' && header[e] != '}') ++e;
  return header.substr(p, e - p);
}

}  // namespace

Tensor read_npy(const std::string& path) {
  auto m = MappedFile::open(path);
  const unsigned char* d = m->data();
  const size_t n = m->size();
  CLIPKIT_CHECK(n >= 10 && std::memcmp(d, "\x93NUMPY", 6) == 0, path, ": not a .npy file");
  const int major = d[6];
  size_t hlen, hoff;
  if (major == 1) {
    hlen = size_t(d[8]) | (size_t(d[9]) << 8);
    hoff = 10;
  } else {
    CLIPKIT_CHECK(major == 2 || major == 3, path, ": unsupported .npy version ", major);
    CLIPKIT_CHECK(n >= 12, path, ": truncated .npy header");
    hlen = size_t(d[8]) | (size_t(d[9]) << 8) | (size_t(d[10]) << 16) | (size_t(d[11]) << 24);
    hoff = 12;
  }
  CLIPKIT_CHECK(hlen <= n - hoff, path, ": .npy header length ", hlen, " runs past the file end");
  const std::string header(reinterpret_cast<const char*>(d + hoff), hlen);
  std::string descr = dict_value(header, "descr", path);
  if (descr.size() >= 2 && (descr.front() == '\'' || descr.front() == '"'))
    descr = descr.substr(1, descr.size() - 2);
  DType dt;
  CLIPKIT_CHECK(dtype_of(descr, &dt), path, ": unsupported .npy dtype '", descr, "'");
  CLIPKIT_CHECK(dict_value(header, "fortran_order", path) == "False", path,
                ": Fortran-order .npy arrays are not supported");
  const std::string shp = dict_value(header, "shape", path);
  Shape shape;
  size_t i = 1;
  while (i < shp.size()) {
    while (i < shp.size() && (shp[i] == ' ' || shp[i] == ',')) ++i;
    if (i >= shp.size() || shp[i] == ')') break;
    size_t j = i;
    while (j < shp.size() && shp[j] >= '0' && shp[j] <= '9') ++j;
    CLIPKIT_CHECK(j > i && j - i < 13, path, ": malformed shape ", shp, " in .npy header");
    shape.push_back(std::stoll(shp.substr(i, j - i)));
    i = j;
  }
  Tensor t = Tensor::empty(dt, shape);
  const size_t off = hoff + hlen;
  CLIPKIT_CHECK(n - off == t.nbytes(), path, ": .npy data is ", n - off, " bytes but ",
                dtype_name(dt), " ", shape_str(shape), " needs ", t.nbytes());
  std::memcpy(t.raw(), d + off, t.nbytes());
  return t;
}

void write_npy(const std::string& path, const Tensor& tensor) {
  Tensor t = tensor.contiguous();
  const char* descr = descr_of(t.dtype());
  CLIPKIT_CHECK(descr, "write_npy: dtype ", dtype_name(t.dtype()), " has no .npy equivalent");
  std::string shape = "(";
  for (int i = 0; i < t.ndim(); ++i) shape += std::to_string(t.dim(i)) + (t.ndim() == 1 ? "," : i + 1 < t.ndim() ? ", " : "");
  shape += ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  write_file_atomic(path, [&](std::ostream& out) {
    const unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                   static_cast<unsigned char>(header.size() & 0xff),
                                   static_cast<unsigned char>(header.size() >> 8)};
    out.write(reinterpret_cast<const char*>(pre), 10);
    out.write(header.data(), std::streamsize(header.size()));
    out.write(static_cast<const char*>(t.raw()), std::streamsize(t.nbytes()));
  });
}

}  // namespace clipkit::io
