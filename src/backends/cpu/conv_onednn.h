// Prepared convolutions of the cpu backend through oneDNN's convolution primitive (CpuBackend's
// prepare_conv / conv / conv_reorder are defined in conv_onednn.cpp).
//
// prepare_conv only checks the spec; loading a model reads none of its convolution weights. The
// first run of a prepared layer folds the BatchNorm into the weights and a bias (float64, rounded
// once to float32), and the first call for each input shape creates a primitive: activations in
// the layouts of the call (the backend's conv_layout() between layers), weights in the layout
// oneDNN picks (format `any`), reordered into it once and shared by every later primitive that
// wants the same layout. Bias, the residual (a `sum` post-op on the output buffer) and ReLU (an
// `eltwise` post-op) run inside the convolution. Primitives are cached per shape in the prepared
// layer, so a forward pass after the first of its batch size creates nothing.
//
// Threads (ConvThreading): by default a convolution is cut into single-threaded primitive calls
// run on ThreadPool::global(): whole images per thread when the batch has at least as many images
// as the pool has threads, else each image's output channels in groups of whole blocks (a block
// range of one image is contiguous in the blocked layout; the weights of a group are a view into
// the layer's). The alternative runs one primitive call on OpenMP with the pool's thread count
// (restoring the calling thread's OpenMP setting afterwards, so the pooled GEMMs are unaffected).
// The pool is the default for the reason the GEMMs use it: OpenMP's idle threads spin, and on a
// shared 2-core host each of the ResNet's 50-odd convolutions then waits for a descheduled
// thread (bench/README.md has the measurements).

#pragma once

#include "ops/backend.h"

namespace clipkit::cpu {

// The activation layout oneDNN prefers on this CPU for the convolutions of a ResNet (queried
// once: nChw8c with AVX2, nChw16c with AVX-512); CpuBackend::conv_layout() returns it.
ops::ConvLayout onednn_conv_layout();

enum class ConvThreading {
  kOpenMp,  // every convolution one primitive call on OpenMP with the pool's thread count
  kPool,    // split into single-threaded primitive calls on the pool (see conv_onednn.h's top)
};
// From CLIPKIT_CONV_THREADING ("openmp" or "pool") at first use; kPool by default.
ConvThreading conv_threading();
void set_conv_threading(ConvThreading t);

}  // namespace clipkit::cpu
