#include "io/json_util.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "core/error.h"
#include "core/mapped_file.h"

namespace clipkit::io::jsonu {

json parse(const std::string& text, const std::string& label) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail(label, ": not valid JSON: ", e.what());
  }
}

json parse_file(const std::string& path) { return parse(read_file(path), path); }

std::vector<double> short_floats(const std::array<float, 3>& v) {
  std::vector<double> out;
  for (float f : v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, f);
    out.push_back(std::strtod(std::string(buf, r.ptr).c_str(), nullptr));
  }
  return out;
}

Obj::Obj(const json& j, std::string label, std::string path)
    : j_(&j), label_(std::move(label)), path_(std::move(path)) {
  CLIPKIT_CHECK(j.is_object(), label_, ": ", path_.empty() ? std::string("the file") : path_,
                " must be a JSON object, got ", kind(j));
}

std::string Obj::kind(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a floating-point number";
    default: return "an unsupported value";
  }
}

std::string Obj::where(const std::string& key) const {
  return label_ + ": " + (path_.empty() ? key : path_ + "." + key);
}

bool Obj::has(const std::string& key) const {
  auto it = j_->find(key);
  return it != j_->end() && !it->is_null();
}

const json& Obj::at(const std::string& key) const {
  auto it = j_->find(key);
  if (it == j_->end() || it->is_null()) fail(where(key), " is missing");
  return *it;
}

namespace {
int to_int(const json& v, const std::string& where) {
  // Python configs sometimes write integral floats (e.g. 768.0); accept those exactly.
  if (v.is_number_integer()) {
    const int64_t x = v.get<int64_t>();
    CLIPKIT_CHECK(x >= std::numeric_limits<int>::min() && x <= std::numeric_limits<int>::max(),
                  where, " = ", x, " is out of range");
    return int(x);
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    CLIPKIT_CHECK(std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 2e9, where,
                  " must be an integer, got ", d);
    return int(d);
  }
  fail(where, " must be an integer, got ", Obj::kind(v));
}
double to_double(const json& v, const std::string& where) {
  CLIPKIT_CHECK(v.is_number(), where, " must be a number, got ", Obj::kind(v));
  return v.get<double>();
}
}  // namespace

int Obj::get_int(const std::string& key) const { return to_int(at(key), where(key)); }
int Obj::get_int(const std::string& key, int dflt) const {
  return has(key) ? get_int(key) : dflt;
}
double Obj::get_double(const std::string& key) const { return to_double(at(key), where(key)); }
double Obj::get_double(const std::string& key, double dflt) const {
  return has(key) ? get_double(key) : dflt;
}
bool Obj::get_bool(const std::string& key, bool dflt) const {
  if (!has(key)) return dflt;
  const json& v = at(key);
  CLIPKIT_CHECK(v.is_boolean(), where(key), " must be true or false, got ", kind(v));
  return v.get<bool>();
}
std::string Obj::get_string(const std::string& key) const {
  const json& v = at(key);
  CLIPKIT_CHECK(v.is_string(), where(key), " must be a string, got ", kind(v));
  return v.get<std::string>();
}
std::string Obj::get_string(const std::string& key, const std::string& dflt) const {
  return has(key) ? get_string(key) : dflt;
}
std::vector<double> Obj::get_doubles(const std::string& key) const {
  const json& v = at(key);
  CLIPKIT_CHECK(v.is_array(), where(key), " must be an array of numbers, got ", kind(v));
  std::vector<double> out;
  for (size_t i = 0; i < v.size(); ++i)
    out.push_back(to_double(v[i], where(key) + "[" + std::to_string(i) + "]"));
  return out;
}
std::vector<int> Obj::get_ints(const std::string& key) const {
  const json& v = at(key);
  CLIPKIT_CHECK(v.is_array(), where(key), " must be an array of integers, got ", kind(v));
  std::vector<int> out;
  for (size_t i = 0; i < v.size(); ++i)
    out.push_back(to_int(v[i], where(key) + "[" + std::to_string(i) + "]"));
  return out;
}
Obj Obj::child(const std::string& key) const {
  const json& v = at(key);
  CLIPKIT_CHECK(v.is_object(), where(key), " must be an object, got ", kind(v));
  return Obj(v, label_, path_.empty() ? key : path_ + "." + key);
}
std::optional<Obj> Obj::opt_child(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return child(key);
}

}  // namespace clipkit::io::jsonu
