#include "io/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"

namespace clipkit::io {

using json = nlohmann::json;

namespace {

uint64_t read_u64_le(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

SafetensorsFile SafetensorsFile::parse(std::shared_ptr<const void> owner, const unsigned char* data,
                                       size_t size, const std::string& label) {
  SafetensorsFile f;
  f.path_ = label;
  CLIPKIT_CHECK(size >= 8, label, ": not a safetensors file (", size,
                " bytes, shorter than the 8-byte header length)");
  const uint64_t header_len = read_u64_le(data);
  CLIPKIT_CHECK(header_len <= size - 8, label, ": header length ", header_len,
                " runs past the end of the file (", size, " bytes)");
  CLIPKIT_CHECK(header_len <= (uint64_t(100) << 20), label, ": header length ", header_len,
                " exceeds the 100 MiB limit");
  const char* hbeg = reinterpret_cast<const char*>(data + 8);
  json header;
  try {
    header = json::parse(hbeg, hbeg + header_len);
  } catch (const json::exception& e) {
    fail(label, ": header is not valid JSON: ", e.what());
  }
  CLIPKIT_CHECK(header.is_object(), label, ": header is not a JSON object");
  const unsigned char* base = data + 8 + header_len;
  const uint64_t avail = size - 8 - header_len;
  f.data_bytes_ = avail;

  struct Range {
    uint64_t b, e;
    std::string name;
  };
  std::vector<Range> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      CLIPKIT_CHECK(v.is_object(), label, ": __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        CLIPKIT_CHECK(m.value().is_string(), label, ": __metadata__ value '", m.key(),
                      "' is not a string");
        f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    CLIPKIT_CHECK(v.is_object() && v.contains("dtype") && v.contains("shape") &&
                      v.contains("data_offsets"),
                  label, ": tensor '", name, "' lacks dtype, shape or data_offsets");
    CLIPKIT_CHECK(v["dtype"].is_string(), label, ": tensor '", name, "' dtype is not a string");
    DType dt;
    const std::string dts = v["dtype"].get<std::string>();
    CLIPKIT_CHECK(parse_dtype(dts, &dt), label, ": tensor '", name, "' has unknown dtype '", dts,
                  "'");
    const json& js = v["shape"];
    CLIPKIT_CHECK(js.is_array() && js.size() <= 16, label, ": tensor '", name,
                  "' shape is not an array of at most 16 dimensions");
    Shape shape;
    uint64_t numel = 1;
    for (const auto& d : js) {
      CLIPKIT_CHECK(d.is_number_unsigned() || (d.is_number_integer() && d.get<int64_t>() >= 0),
                    label, ": tensor '", name, "' has a non-integer or negative dimension");
      const uint64_t dim = d.get<uint64_t>();
      CLIPKIT_CHECK(dim < (uint64_t(1) << 40), label, ": tensor '", name, "' dimension ", dim,
                    " is implausibly large");
      if (dim != 0 && numel > (uint64_t(1) << 62) / dim) fail(label, ": tensor '", name, "' is too large");
      numel *= dim;
      shape.push_back(int64_t(dim));
    }
    const json& jo = v["data_offsets"];
    CLIPKIT_CHECK(jo.is_array() && jo.size() == 2 && jo[0].is_number_unsigned() &&
                      jo[1].is_number_unsigned(),
                  label, ": tensor '", name, "' data_offsets is not a pair of unsigned integers");
    const uint64_t b = jo[0].get<uint64_t>(), e = jo[1].get<uint64_t>();
    CLIPKIT_CHECK(b <= e && e <= avail, label, ": tensor '", name, "' data_offsets [", b, ", ", e,
                  ") outside the data area of ", avail, " bytes");
    const uint64_t expect = numel * dtype_size(dt);
    CLIPKIT_CHECK(e - b == expect, label, ": tensor '", name, "' has ", e - b, " bytes but ",
                  dts, " ", shape_str(shape), " needs ", expect);
    Tensor t = Tensor::view(owner, base + b, dt, shape);
    t.set_name(name);
    f.tensors_.emplace(name, std::move(t));
    ranges.push_back({b, e, name});
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& x, const Range& y) {
    return x.b != y.b ? x.b < y.b : x.e < y.e;
  });
  for (size_t i = 1; i < ranges.size(); ++i) {
    CLIPKIT_CHECK(ranges[i].b >= ranges[i - 1].e || ranges[i - 1].b == ranges[i - 1].e ||
                      ranges[i].b == ranges[i].e,
                  label, ": tensors '", ranges[i - 1].name, "' and '", ranges[i].name,
                  "' overlap");
  }
  for (const auto& r : ranges) f.names_.push_back(r.name);
  return f;
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  auto m = MappedFile::open(path);
  const unsigned char* d = m->data();
  const size_t n = m->size();
  return parse(std::shared_ptr<const void>(m, d), d, n, path);
}

const Tensor& SafetensorsFile::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(path_, ": no tensor named '", name, "'");
  return it->second;
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, Tensor>> items;
  items.reserve(tensors.size());
  for (const auto& [n, t] : tensors) {
    CLIPKIT_CHECK(t.defined(), "write_safetensors: tensor '", n, "' is undefined");
    CLIPKIT_CHECK(n != "__metadata__", "write_safetensors: '__metadata__' is not a tensor name");
    items.emplace_back(n, t.contiguous());
  }
  std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
    const size_t sa = dtype_size(a.second.dtype()), sb = dtype_size(b.second.dtype());
    return sa != sb ? sa > sb : a.first < b.first;
  });
  for (size_t i = 1; i < items.size(); ++i)
    CLIPKIT_CHECK(items[i].first != items[i - 1].first, "write_safetensors: duplicate tensor '",
                  items[i].first, "'");
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t off = 0;
  for (const auto& [n, t] : items) {
    header[n] = {{"dtype", std::string(dtype_name(t.dtype()))},
                 {"shape", t.shape()},
                 {"data_offsets", {off, off + t.nbytes()}}};
    off += t.nbytes();
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');
  write_file_atomic(path, [&](std::ostream& out) {
    unsigned char len[8];
    const uint64_t hl = h.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(hl >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(h.data(), std::streamsize(h.size()));
    for (const auto& [n, t] : items)
      out.write(static_cast<const char*>(t.raw()), std::streamsize(t.nbytes()));
  });
}

}  // namespace clipkit::io
