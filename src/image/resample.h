// Resampling exactly as Pillow 9.4's Image.resize (src/libImaging/Resample.c and Geometry.c), so
// that the pixels a CLIP model sees are bit-identical to the Python reference.
//
// What Pillow does, and therefore what resize() does:
//  * Antialiased convolution filters (box, bilinear, hamming, bicubic with a = -0.5, lanczos): the
//    filter is widened by the scale factor when shrinking, never narrowed when enlarging. Two
//    separable passes, horizontal first, then vertical; a pass is skipped when its axis is
//    unchanged, and the horizontal pass only produces the rows the vertical pass reads.
//  * 8-bit modes: weights in fixed point with 22 fractional bits (PRECISION_BITS), each pass
//    rounding (adding 2^21, arithmetic shift) and clipping to 0..255 before the next.
//  * 32-bit modes I and F: double-precision weights and sums; I rounds half away from zero after
//    each pass, F stores each pass as float.
//  * Modes "1" and "P" always use NEAREST whatever was asked; I;16 only supports NEAREST (Pillow
//    9.4 raises "image has wrong mode" otherwise, and so does this). NEAREST walks a running double
//    coordinate (start scale/2, add scale per pixel), not floor((i + 0.5) * scale).
//  * RGBA and LA (with any filter but NEAREST) are resized premultiplied: RGBA->RGBa with
//    c' = MULDIV255(c, a), resample, then c = min(255, 255 * c' / a) unless a is 0 or 255.
//  * A same-size resize without a box is a copy; an integer box whose size equals the target is
//    a crop (after premultiplication for RGBA/LA, as Pillow orders it).
#pragma once

#include <string_view>

#include "image/image.h"

namespace clipkit::image {

// Pillow's resampling filters.
enum class Filter : uint8_t { kNearest, kBox, kBilinear, kHamming, kBicubic, kLanczos };

// "nearest", "box", "bilinear", "hamming", "bicubic", "lanczos" (case-insensitive; "antialias" is
// Pillow's old name for lanczos). Throws clipkit::Error listing the valid names.
Filter parse_filter(std::string_view name);
const char* filter_name(Filter f);

// The source rectangle of Image.resize's `box` argument, in pixels. Pillow parses it as C floats,
// so it is float here too.
struct ResizeBox {
  float x0, y0, x1, y1;
};

// Largest output side and pixel count resize() accepts: Pillow has no such limit, but a target of
// this size is always a mistake (a bad size computation) and would exhaust memory.
inline constexpr int kMaxResizeSide = 1 << 20;
inline constexpr uint64_t kMaxResizePixels = 2ull * 89478485ull;

// Image.resize((width, height), filter, box) of Pillow 9.4 for every mode in image.h. Throws
// clipkit::Error for an empty image, a non-positive or oversized target, a box outside the image,
// or a mode/filter pair Pillow refuses.
Image resize(const Image& img, int width, int height, Filter filter,
             const ResizeBox* box = nullptr);

// A rectangle of a resize result, in output pixels.
struct Window {
  int x = 0, y = 0, width = 0, height = 0;
};

// The `window` of resize(img, width, height, filter, box), computed without producing the rest of
// the result: each output pixel depends only on its own position's weights, so the window is
// bit-identical to cropping the full result. Preprocessing uses it to resample only the centre
// crop. Throws like resize(), and when the window is empty or leaves the output.
Image resize_window(const Image& img, int width, int height, Filter filter, const ResizeBox* box,
                    const Window& window);

// torch.nn.functional.interpolate(x, size, mode=bilinear|bicubic, antialias=True) of torch 2.x on
// a uint8 CPU tensor — what torchvision's resize does to uint8 tensors, and so what transformers'
// torchvision-backed image processors (CLIPImageProcessor in transformers 5) compute. Pillow's
// separable scheme, every channel on its own (no premultiplied alpha), with int16 weights at a
// per-axis precision set by the largest weight, and the bicubic polynomial evaluated as torch
// writes it. 8-bit sample modes only (L, LA, RGB, RGBA, CMYK). `window` as in resize_window.
Image resize_torch_antialias(const Image& img, int width, int height, Filter filter,
                             const Window* window = nullptr);

// Pillow's convert("RGBa") / convert("La") (premultiply) and back (convert("RGBA") / ("LA")).
// In place; the image must be RGBA or LA. Exposed for tests.
void premultiply_alpha(Image& img);
void unpremultiply_alpha(Image& img);

}  // namespace clipkit::image
