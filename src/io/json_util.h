// Typed access to JSON configuration files with errors that name the file and the field path
// ("open_clip_config.json: model_cfg.vision_cfg.width must be an integer, got a string"). Used by
// the config readers; nlohmann::json stays an implementation detail of src/io.
#pragma once

#include <array>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace clipkit::io::jsonu {

using json = nlohmann::json;

// Parses `text`; a syntax error becomes an Error naming `label`.
json parse(const std::string& text, const std::string& label);
// Reads and parses a file.
json parse_file(const std::string& path);

// float values as the doubles with the shortest decimal form that reads back as the same float
// (0.48145466f is written 0.48145466, not 0.48145467042922974).
std::vector<double> short_floats(const std::array<float, 3>& v);

// A JSON object together with where it came from, so that every accessor can name the field.
class Obj {
 public:
  Obj(const json& j, std::string label, std::string path);
  const json& raw() const { return *j_; }
  bool has(const std::string& key) const;           // present and not null
  std::string where(const std::string& key) const;  // "label: a.b.key"

  int get_int(const std::string& key) const;  // required
  int get_int(const std::string& key, int dflt) const;
  double get_double(const std::string& key) const;
  double get_double(const std::string& key, double dflt) const;
  bool get_bool(const std::string& key, bool dflt) const;
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& dflt) const;
  std::vector<double> get_doubles(const std::string& key) const;  // array of numbers
  std::vector<int> get_ints(const std::string& key) const;        // array of integers
  Obj child(const std::string& key) const;                        // required object
  std::optional<Obj> opt_child(const std::string& key) const;     // object or absent/null
  // The value as a string for messages ("a string", "an array", ...).
  static std::string kind(const json& v);

 private:
  const json& at(const std::string& key) const;  // present (else Error)
  const json* j_;
  std::string label_, path_;
};

}  // namespace clipkit::io::jsonu
