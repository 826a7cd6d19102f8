// Int8 and 16-bit conversion of canonical checkpoints (the scheme is documented in quantize.h).
#include "io/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <regex>

#include "core/error.h"

namespace clipkit::io {

namespace {

bool is_float_dtype(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64;
}

bool ends_with(const std::string& s, std::string_view x) {
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

constexpr std::string_view kScaleSuffix = "_scale";

// The int8 weight a scale belongs to, when `name` is the scale of an I8 tensor of `params`.
bool is_scale_of_int8(const std::map<std::string, Tensor>& params, const std::string& name) {
  if (!ends_with(name, kScaleSuffix)) return false;
  auto it = params.find(name.substr(0, name.size() - kScaleSuffix.size()));
  return it != params.end() && it->second.dtype() == DType::I8;
}

std::string int8_description() {
  return "per-output-row symmetric int8 weights: scale[n] = max_k |w[n,k]| / 127 (1 for a zero "
         "row), q = clamp(rint(w / scale), -127, 127), w ~ q * scale; on the transformer block "
         "linear weights (attn q/k/v/out_proj, mlp fc1/fc2) of both towers; scales in "
         "'<weight>_scale' (F32 [out])";
}

// What the tensors of a quantised checkpoint hold, for its "quantization" metadata entry.
std::string describe(const std::map<std::string, Tensor>& params) {
  bool int8 = false;
  std::map<DType, int> floats;
  for (const auto& [n, t] : params) {
    if (t.dtype() == DType::I8) int8 = true;
    else if (is_float_dtype(t.dtype()) && !is_scale_of_int8(params, n)) ++floats[t.dtype()];
  }
  std::string f;
  if (floats.size() == 1 && floats.begin()->first == DType::F16) f = "f16";
  if (floats.size() == 1 && floats.begin()->first == DType::BF16) f = "bf16";
  if (int8) return f.empty() ? "int8" : "int8+" + f;
  return f.empty() ? "none" : f;
}

}  // namespace

const char* quantize_target_name(QuantizeTarget t) {
  switch (t) {
    case QuantizeTarget::kInt8: return "int8";
    case QuantizeTarget::kF16: return "f16";
    case QuantizeTarget::kBF16: return "bf16";
  }
  return "?";
}

QuantizeTarget parse_quantize_target(std::string_view name) {
  for (QuantizeTarget t : {QuantizeTarget::kInt8, QuantizeTarget::kF16, QuantizeTarget::kBF16})
    if (name == quantize_target_name(t)) return t;
  fail("unknown quantisation '", name, "' (int8, f16 or bf16)");
}

bool is_int8_weight_name(const std::string& n) {
  static const std::regex re(
      R"((text|vision)\.blocks\.[0-9]+\.(attn\.(q|k|v|out)_proj|mlp\.fc[12])\.weight)");
  return std::regex_match(n, re);
}

std::string scale_name(const std::string& weight_name) {
  return weight_name + std::string(kScaleSuffix);
}

Int8Rows quantize_int8_rows(const Tensor& weight) {
  CLIPKIT_CHECK(weight.ndim() == 2, "quantize: '", weight.name(), "' has shape ",
                shape_str(weight.shape()), "; int8 quantisation needs a 2-D [out, in] weight");
  CLIPKIT_CHECK(is_float_dtype(weight.dtype()), "quantize: '", weight.name(), "' has dtype ",
                dtype_name(weight.dtype()), "; only float weights can be quantised");
  const Tensor w = weight.to(DType::F32);  // exact for 16-bit input; a view when already F32
  const int64_t rows = w.dim(0), cols = w.dim(1);
  Int8Rows r;
  r.q = Tensor::empty(DType::I8, {rows, cols});
  r.scale = Tensor::empty(DType::F32, {rows});
  r.q.set_name(weight.name());
  r.scale.set_name(scale_name(weight.name()));
  const float* src = w.data<float>();
  int8_t* q = r.q.data<int8_t>();
  float* scale = r.scale.data<float>();
  for (int64_t n = 0; n < rows; ++n) {
    const float* row = src + n * cols;
    float max_abs = 0.0f;
    for (int64_t k = 0; k < cols; ++k) {
      CLIPKIT_CHECK(std::isfinite(row[k]), "quantize: '", weight.name(), "' holds ", row[k],
                    " at [", n, ", ", k, "]; only finite weights can be quantised");
      max_abs = std::max(max_abs, std::fabs(row[k]));
    }
    float s = max_abs / 127.0f;
    // An all-zero row (or one so small that its scale underflows) keeps scale 1 and q = 0.
    if (!(s > 0.0f)) s = 1.0f;
    scale[n] = s;
    const double ds = s;
    for (int64_t k = 0; k < cols; ++k) {
      // The quotient in float64 is the exact one rounded once, so rint picks the nearest q.
      const double v = std::nearbyint(double(row[k]) / ds);
      q[n * cols + k] = int8_t(v < -127.0 ? -127.0 : (v > 127.0 ? 127.0 : v));
    }
  }
  return r;
}

Tensor dequantize_int8_rows(const Tensor& q, const Tensor& scale) {
  CLIPKIT_CHECK(q.dtype() == DType::I8 && q.ndim() == 2, "dequantize: '", q.name(),
                "' must be an I8 [out, in] tensor");
  CLIPKIT_CHECK(scale.ndim() == 1 && scale.dim(0) == q.dim(0), "dequantize: scale of '", q.name(),
                "' has shape ", shape_str(scale.shape()), ", expected [", q.dim(0), "]");
  const Tensor qc = q.contiguous(), sc = scale.to(DType::F32);
  const int64_t rows = q.dim(0), cols = q.dim(1);
  Tensor out = Tensor::empty(DType::F32, {rows, cols});
  out.set_name(q.name());
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t k = 0; k < cols; ++k)
      out.data<float>()[n * cols + k] = float(qc.data<int8_t>()[n * cols + k]) * sc.data<float>()[n];
  return out;
}

Tensor round_to_16bit(const Tensor& t, DType dtype) {
  CLIPKIT_CHECK(dtype == DType::F16 || dtype == DType::BF16, "round_to_16bit: target ",
                dtype_name(dtype), " is not F16 or BF16");
  CLIPKIT_CHECK(is_float_dtype(t.dtype()), "quantize: '", t.name(), "' has dtype ",
                dtype_name(t.dtype()), "; only float tensors can be rounded to ", dtype_name(dtype));
  if (t.dtype() == dtype) return t.contiguous();
  const Tensor src = t.to(DType::F32);  // exact from F16/BF16; F64 is rounded once here
  Tensor out = Tensor::empty(dtype, t.shape());
  out.set_name(t.name());
  const float* x = src.data<float>();
  uint16_t* y = out.data<uint16_t>();
  const int64_t n = src.numel();
  const bool f16 = dtype == DType::F16;
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = f16 ? f32_to_f16(x[i]) : f32_to_bf16(x[i]);
    // Infinity in the result from a finite input means the value is out of the type's range.
    const bool inf = f16 ? (h & 0x7fff) == 0x7c00 : (h & 0x7fff) == 0x7f80;
    CLIPKIT_CHECK(!inf || !std::isfinite(x[i]), "quantize: '", t.name(), "' holds ", x[i],
                  " (element ", i, "), beyond the range of ", dtype_name(dtype),
                  f16 ? " (max 65504); use bf16" : "");
    y[i] = h;
  }
  return out;
}

Checkpoint quantize_checkpoint(const Checkpoint& ck, QuantizeTarget to, QuantizeSummary* summary) {
  Checkpoint out;
  out.config = ck.config;
  out.layout = ck.layout;
  out.path = ck.path;
  out.weight_files = ck.weight_files;
  out.config_source = ck.config_source;
  out.metadata = ck.metadata;
  QuantizeSummary s;
  for (const auto& [name, t] : ck.params) {
    s.bytes_before += t.nbytes();
    Tensor result = t;
    if (to == QuantizeTarget::kInt8) {
      if (is_int8_weight_name(name) && is_float_dtype(t.dtype())) {
        Int8Rows r = quantize_int8_rows(t);
        CLIPKIT_CHECK(!ck.params.count(scale_name(name)), ck.path, ": '", scale_name(name),
                      "' exists next to the float weight '", name, "'");
        out.params[scale_name(name)] = r.scale;
        s.bytes_after += r.scale.nbytes();
        ++s.scales_added;
        result = r.q;
      }
    } else if (is_float_dtype(t.dtype()) && !is_scale_of_int8(ck.params, name)) {
      // Int8 scales stay float32: they multiply every output of their row.
      result = round_to_16bit(t, to == QuantizeTarget::kF16 ? DType::F16 : DType::BF16);
    }
    if (result.dtype() != t.dtype()) ++s.converted;
    else ++s.kept;
    s.bytes_after += result.nbytes();
    out.params[name] = result.set_name(name);
  }
  for (auto it = out.metadata.begin(); it != out.metadata.end();)
    it = it->first.rfind("quantization", 0) == 0 ? out.metadata.erase(it) : std::next(it);
  out.metadata["quantization"] = describe(out.params);
  bool has_int8 = false;
  for (const auto& [n, t] : out.params) has_int8 = has_int8 || t.dtype() == DType::I8;
  if (has_int8) out.metadata["quantization.int8"] = int8_description();
  if (summary) *summary = s;
  return out;
}

}  // namespace clipkit::io
