// Internal: the two separable passes of Pillow's resampler for 8-bit interleaved samples (fixed
// point) and for 32-bit I / F samples (double). Each pass writes every output sample; none
// allocates per pixel.
#pragma once

#include <cstddef>
#include <cstdint>

#include "image/resample_coeffs.h"

namespace clipkit::image::detail {

// Every pass computes the outputs [first, first + n) of its axis (a window of the full result:
// each output depends only on its own weights, so a window is bit-identical to cropping the full
// result) and writes them from index 0 of dst.

// Horizontal pass over `rows` rows: src rows of c.in_size pixels x `channels` samples (1..4)
// with byte stride `src_stride` -> dst rows of n pixels with stride `dst_stride`.
void resample_h_u8(const uint8_t* src, size_t src_stride, int rows, int channels,
                   const AxisCoeffs& c, int first, int n, uint8_t* dst, size_t dst_stride);
// Vertical pass: output row y reads src rows c.start[y] - row_offset .. + c.count[y], each of
// `row_values` samples (width x channels) -> n rows of dst.
void resample_v_u8(const uint8_t* src, size_t src_stride, int row_offset, int row_values,
                   const AxisCoeffs& c, int first, int n, uint8_t* dst, size_t dst_stride);

// The same passes for mode I (int32, rounded half away from zero after each pass) and F (float).
// Strides are in elements.
void resample_h_i32(const int32_t* src, size_t src_stride, int rows, const AxisCoeffs& c,
                    int first, int n, int32_t* dst, size_t dst_stride);
void resample_v_i32(const int32_t* src, size_t src_stride, int row_offset, int width,
                    const AxisCoeffs& c, int first, int n, int32_t* dst, size_t dst_stride);
void resample_h_f32(const float* src, size_t src_stride, int rows, const AxisCoeffs& c,
                    int first, int n, float* dst, size_t dst_stride);
void resample_v_f32(const float* src, size_t src_stride, int row_offset, int width,
                    const AxisCoeffs& c, int first, int n, float* dst, size_t dst_stride);

// Tests run the 8-bit passes both with the vector kernels and with the portable scalar ones.
// Process-wide; not meant to be toggled while other threads resample.
void set_force_scalar_kernels(bool on);
bool vector_kernels_available();

}  // namespace clipkit::image::detail
