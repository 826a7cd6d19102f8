// TIFF (first directory) through libtiff, into the modes of Pillow 9.4's TiffImagePlugin
// (its OPEN_INFO table, keyed by photometric interpretation, sample format, bits per sample and
// extra samples). Pixel data is read the way Pillow's libtiff decoder reads it: strips or tiles
// through TIFFReadEncoded*, YCbCr through libtiff's RGBA converter (JPEG-compressed YCbCr with
// JPEGCOLORMODE_RGB), then unpacked with Pillow's raw modes: min-is-white inverted for 1-8 bit
// grey, 2/4-bit grey scaled, 16-bit samples of colour images reduced to their high byte,
// associated alpha ("RGBa") un-premultiplied, padding samples ("RGBX") dropped.
//
// Pillow 9.4 applies the TIFF Orientation tag while loading (TiffImageFile.load_end) and still
// reports it through getexif(), so ImageOps.exif_transpose transposes such an image a second
// time. Both are reproduced: the decoded pixels are already transposed and exif_orientation
// keeps the tag's value. Big-endian 16-bit grey ("I;16B" in Pillow) is returned as I;16 with the
// same values; "RGBX" as RGB.
//
// libtiff reports errors through per-handle handlers (TIFFOpenOptions), so concurrent decodes
// never touch its global handlers; warnings are ignored as Pillow ignores them.
#include <tiffio.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "image/codec_common.h"
#include "image/exif.h"

namespace clipkit::image::detail {
namespace {

constexpr const char* kFmt = "TIFF";

struct MemFile {
  const uint8_t* data;
  size_t size;
  uint64_t pos = 0;
  std::string error;  // first libtiff error message
};

tmsize_t mem_read(thandle_t h, void* buf, tmsize_t n) {
  auto* m = static_cast<MemFile*>(h);
  if (n <= 0 || m->pos >= m->size) return 0;
  const size_t k = std::min<uint64_t>(uint64_t(n), m->size - m->pos);
  std::memcpy(buf, m->data + m->pos, k);
  m->pos += k;
  return tmsize_t(k);
}
tmsize_t mem_write(thandle_t, void*, tmsize_t) { return 0; }
toff_t mem_seek(thandle_t h, toff_t off, int whence) {
  auto* m = static_cast<MemFile*>(h);
  uint64_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->size : 0;
  m->pos = base + off;
  return m->pos;
}
int mem_close(thandle_t) { return 0; }
toff_t mem_size(thandle_t h) { return static_cast<MemFile*>(h)->size; }
int mem_map(thandle_t h, void** base, toff_t* size) {
  auto* m = static_cast<MemFile*>(h);
  *base = const_cast<uint8_t*>(m->data);
  *size = m->size;
  return 1;
}
void mem_unmap(thandle_t, void*, toff_t) {}

int on_error(TIFF*, void* user, const char* module, const char* fmt, va_list ap) {
  auto* m = static_cast<MemFile*>(user);
  if (m->error.empty()) {
    char buf[512];
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    m->error = module ? std::string(module) + ": " + buf : std::string(buf);
  }
  return 1;
}
int on_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }

struct TiffCloser {
  void operator()(TIFF* t) const { TIFFClose(t); }
};

// How the samples of one pixel become the mode's channels (Pillow's raw modes).
enum class Unpack {
  kBit,       // "1" / "1;I"
  kGreyLow,   // "L;2", "L;4" and their inverted forms
  kGrey8,     // "L" / "L;I"
  kIndex,     // "P;1" .. "P": palette indices
  kCopy8,     // first `channels` 8-bit samples (LA, PA, RGB, RGBX, RGBA, CMYK, ...)
  kRGBa8,     // associated alpha, un-premultiplied
  kHigh16,    // high byte of the first `channels` native 16-bit samples
  kRGBa16,    // associated alpha at 16 bits, high bytes, un-premultiplied
  kU16,       // "I;16": native 16-bit grey
  kS16,       // "I;16S" -> I
  kI32,       // "I;32N" / "I;32S" -> I (unsigned values reinterpreted, as Pillow does)
  kF32,       // "F;32F" -> F
};

struct Layout {
  Mode mode;
  Unpack unpack;
  int channels;      // output channels taken from each pixel
  bool invert = false;
};


// Pillow's OPEN_INFO for the layouts clipkit decodes; false when Pillow has no entry.
bool pick_layout(uint16_t photo, uint16_t sample_format, uint16_t bps, uint16_t spp,
                 const std::vector<uint16_t>& extra, bool big_endian, Layout* out) {
  const size_t ne = extra.size();
  auto extra_is = [&](std::initializer_list<uint16_t> want) {
    return ne == want.size() && std::equal(extra.begin(), extra.end(), want.begin());
  };
  if ((photo == 0 || photo == 1) && spp == 1 && ne == 0) {
    const bool inv = photo == 0;
    if (sample_format == 1) {
      switch (bps) {
        case 1: *out = {Mode::kOne, Unpack::kBit, 1, inv}; return true;
        case 2: case 4: *out = {Mode::kL, Unpack::kGreyLow, 1, inv}; return true;
        case 8: *out = {Mode::kL, Unpack::kGrey8, 1, inv}; return true;
        case 16:
          if (photo == 0 && big_endian) return false;
          *out = {Mode::kI16, Unpack::kU16, 1}; return true;
        case 32:
          if (photo == 0 || big_endian) return false;
          *out = {Mode::kI, Unpack::kI32, 1}; return true;
      }
    } else if (sample_format == 2 && photo == 1) {
      if (bps == 16) { *out = {Mode::kI, Unpack::kS16, 1}; return true; }
      if (bps == 32) { *out = {Mode::kI, Unpack::kI32, 1}; return true; }
    } else if (sample_format == 3 && bps == 32) {
      *out = {Mode::kF, Unpack::kF32, 1}; return true;
    }
    return false;
  }
  if (sample_format != 1) return false;
  if (photo == 1 && bps == 8 && spp == 2 && extra_is({2})) { *out = {Mode::kLA, Unpack::kCopy8, 2}; return true; }
  if (photo == 2 && bps == 8) {
    if (spp == 3 && ne == 0) { *out = {Mode::kRGB, Unpack::kCopy8, 3}; return true; }
    if (spp == 4 && (ne == 0 || extra_is({2}) || extra_is({999}))) { *out = {Mode::kRGBA, Unpack::kCopy8, 4}; return true; }
    if ((spp == 4 && extra_is({0})) || (spp == 5 && extra_is({0, 0})) || (spp == 6 && extra_is({0, 0, 0}))) {
      *out = {Mode::kRGB, Unpack::kCopy8, 3}; return true;
    }
    if ((spp == 4 && extra_is({1})) || (spp == 5 && extra_is({1, 0})) || (spp == 6 && extra_is({1, 0, 0}))) {
      *out = {Mode::kRGBA, Unpack::kRGBa8, 4}; return true;
    }
    if ((spp == 5 && extra_is({2, 0})) || (spp == 6 && extra_is({2, 0, 0}))) {
      *out = {Mode::kRGBA, Unpack::kCopy8, 4}; return true;
    }
    return false;
  }
  if (photo == 2 && bps == 16) {
    if (spp == 3 && ne == 0) { *out = {Mode::kRGB, Unpack::kHigh16, 3}; return true; }
    if (spp == 4 && (ne == 0 || extra_is({2}))) { *out = {Mode::kRGBA, Unpack::kHigh16, 4}; return true; }
    if (spp == 4 && extra_is({0})) { *out = {Mode::kRGB, Unpack::kHigh16, 3}; return true; }
    if (spp == 4 && extra_is({1})) { *out = {Mode::kRGBA, Unpack::kRGBa16, 4}; return true; }
    return false;
  }
  if (photo == 3) {
    if (spp == 1 && ne == 0 && (bps == 1 || bps == 2 || bps == 4 || bps == 8)) {
      *out = {Mode::kP, Unpack::kIndex, 1}; return true;
    }
    if (spp == 2 && bps == 8 && extra_is({2})) { *out = {Mode::kPA, Unpack::kCopy8, 2}; return true; }
    return false;
  }
  if (photo == 5) {
    if (bps == 8 && ((spp == 4 && ne == 0) || (spp == 5 && extra_is({0})) || (spp == 6 && extra_is({0, 0})))) {
      *out = {Mode::kCMYK, Unpack::kCopy8, 4}; return true;
    }
    if (bps == 16 && spp == 4 && ne == 0 && !big_endian) { *out = {Mode::kCMYK, Unpack::kHigh16, 4}; return true; }
    return false;
  }
  if (photo == 6 && bps == 8 && spp == 3 && ne == 0) { *out = {Mode::kRGB, Unpack::kCopy8, 3}; return true; }
  return false;
}

inline uint8_t unpremultiply(int c, int a) { return uint8_t(std::min(255, c * 255 / a)); }

// One row of contiguous samples -> one row of the mode (Pillow's unpackers).
void unpack_row(const Layout& l, int spp, int bps, const uint8_t* in, uint8_t* out, size_t w) {
  switch (l.unpack) {
    case Unpack::kBit:
      for (size_t x = 0; x < w; ++x) {
        const bool set = (in[x >> 3] >> (7 - (x & 7))) & 1;
        out[x] = (set != l.invert) ? 255 : 0;
      }
      break;
    case Unpack::kGreyLow: {
      const int per = 8 / bps, mask = (1 << bps) - 1, k = bps == 2 ? 0x55 : 0x11;
      for (size_t x = 0; x < w; ++x) {
        const int v = (in[x / per] >> (8 - bps * (1 + int(x % per)))) & mask;
        out[x] = uint8_t(l.invert ? 255 - v * k : v * k);
      }
      break;
    }
    case Unpack::kGrey8:
      for (size_t x = 0; x < w; ++x) out[x] = l.invert ? uint8_t(255 - in[x]) : in[x];
      break;
    case Unpack::kIndex: {
      const int per = 8 / bps, mask = (1 << bps) - 1;
      for (size_t x = 0; x < w; ++x) out[x] = uint8_t((in[x / per] >> (8 - bps * (1 + int(x % per)))) & mask);
      break;
    }
    case Unpack::kCopy8:
      for (size_t x = 0; x < w; ++x) std::memcpy(out + x * l.channels, in + x * spp, size_t(l.channels));
      break;
    case Unpack::kRGBa8:
      for (size_t x = 0; x < w; ++x) {
        const uint8_t* p = in + x * spp;
        uint8_t* o = out + 4 * x;
        const int a = p[3];
        if (a == 0) {
          std::memset(o, 0, 4);
        } else if (a == 255) {
          std::memcpy(o, p, 4);
        } else {
          o[0] = unpremultiply(p[0], a); o[1] = unpremultiply(p[1], a); o[2] = unpremultiply(p[2], a); o[3] = uint8_t(a);
        }
      }
      break;
    case Unpack::kHigh16: case Unpack::kRGBa16:
      for (size_t x = 0; x < w; ++x) {
        uint8_t hi[4];
        for (int c = 0; c < l.channels; ++c) {
          uint16_t v;
          std::memcpy(&v, in + 2 * (x * spp + c), 2);
          hi[c] = uint8_t(v >> 8);
        }
        uint8_t* o = out + x * l.channels;
        if (l.unpack == Unpack::kHigh16) {
          std::memcpy(o, hi, size_t(l.channels));
        } else if (hi[3] == 0) {
          std::memset(o, 0, 4);
        } else if (hi[3] == 255) {
          std::memcpy(o, hi, 4);
        } else {
          for (int c = 0; c < 3; ++c) o[c] = unpremultiply(hi[c], hi[3]);
          o[3] = hi[3];
        }
      }
      break;
    case Unpack::kU16:
      std::memcpy(out, in, 2 * w);
      break;
    case Unpack::kS16:
      for (size_t x = 0; x < w; ++x) {
        int16_t v;
        std::memcpy(&v, in + 2 * x, 2);
        const int32_t i = v;
        std::memcpy(out + 4 * x, &i, 4);
      }
      break;
    case Unpack::kI32: case Unpack::kF32:
      std::memcpy(out, in, 4 * w);
      break;
  }
}

// Reads every strip or tile of the first directory into `raw`: `row_bytes` per image row of
// contiguous samples (separate planes are interleaved here).
bool read_samples(TIFF* tif, uint32_t w, uint32_t h, int spp, int bps, bool planar_separate,
                  size_t row_bytes, std::vector<uint8_t>& raw) {
  const int planes = planar_separate ? spp : 1;
  const int plane_spp = planar_separate ? 1 : spp;
  const size_t plane_row = (size_t(w) * plane_spp * bps + 7) / 8;
  std::vector<uint8_t> buf;
  auto store = [&](int plane, uint32_t y, uint32_t x0, const uint8_t* src, uint32_t npx) {
    uint8_t* dst = raw.data() + size_t(y) * row_bytes;
    if (!planar_separate) {
      const size_t bits_off = size_t(x0) * spp * bps;
      std::memcpy(dst + bits_off / 8, src, (size_t(npx) * spp * bps + 7) / 8);
      return;
    }
    const size_t sb = size_t(bps) / 8;  // separate planes are only accepted for whole bytes
    for (uint32_t i = 0; i < npx; ++i)
      std::memcpy(dst + ((size_t(x0) + i) * spp + plane) * sb, src + size_t(i) * sb, sb);
  };
  if (TIFFIsTiled(tif)) {
    uint32_t tw = 0, th = 0;
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
    if (tw == 0 || th == 0) return false;
    const tmsize_t tsize = TIFFTileSize(tif);
    const size_t trow = (size_t(tw) * plane_spp * bps + 7) / 8;
    if (tsize <= 0 || size_t(tsize) < trow * th) return false;
    buf.resize(size_t(tsize));
    for (int p = 0; p < planes; ++p)
      for (uint32_t y = 0; y < h; y += th)
        for (uint32_t x = 0; x < w; x += tw) {
          if (TIFFReadEncodedTile(tif, TIFFComputeTile(tif, x, y, 0, uint16_t(p)), buf.data(), tsize) < 0) return false;
          const uint32_t nx = std::min(tw, w - x), ny = std::min(th, h - y);
          if (!planar_separate && (size_t(x) * spp * bps) % 8 != 0) return false;
          for (uint32_t r = 0; r < ny; ++r) store(p, y + r, x, buf.data() + r * trow, nx);
        }
    return true;
  }
  uint32_t rps = 0;
  if (!TIFFGetField(tif, TIFFTAG_ROWSPERSTRIP, &rps) || rps == 0 || rps > h) rps = h;
  const tmsize_t ssize = TIFFStripSize(tif);
  if (ssize <= 0) return false;
  buf.resize(std::max(size_t(ssize), plane_row * rps));
  for (int p = 0; p < planes; ++p)
    for (uint32_t y = 0; y < h; y += rps) {
      const tstrip_t strip = TIFFComputeStrip(tif, y, uint16_t(p));
      if (TIFFReadEncodedStrip(tif, strip, buf.data(), tmsize_t(buf.size())) < 0) return false;
      const uint32_t ny = std::min(rps, h - y);
      for (uint32_t r = 0; r < ny; ++r) store(p, y + r, 0, buf.data() + r * plane_row, w);
    }
  return true;
}

// The tags that choose the mode, with Pillow's defaults (photometric 0 when absent; old-style JPEG
// is YCbCr whatever the tag says).
struct Fields {
  uint32_t width = 0, height = 0;
  uint16_t bps = 1, spp = 1, photometric = 0, sample_format = 1, planar = 1, compression = 1, orientation = 1;
  std::vector<uint16_t> extra;
};

Fields read_fields(TIFF* tif) {
  Fields f;
  TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &f.width);
  TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &f.height);
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &f.bps);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &f.spp);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &f.sample_format);
  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &f.planar);
  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &f.compression);
  if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &f.photometric)) f.photometric = 0;
  if (!TIFFGetField(tif, TIFFTAG_ORIENTATION, &f.orientation)) f.orientation = 1;
  if (f.compression == COMPRESSION_OJPEG) f.photometric = PHOTOMETRIC_YCBCR;
  uint16_t n = 0;
  uint16_t* e = nullptr;
  if (TIFFGetField(tif, TIFFTAG_EXTRASAMPLES, &n, &e) && e) f.extra.assign(e, e + n);
  return f;
}

// Pillow's Image.transpose for the orientation tag (the same moves as exif_transpose).
Image orient(const Image& img, int orientation) {
  Image tmp = img;
  tmp.exif_orientation = orientation;
  Image out = exif_transpose(tmp);
  out.exif_orientation = img.exif_orientation;
  return out;
}

}  // namespace

Image decode_tiff(const Source& s) {
  MemFile mem{s.data, s.size, 0, {}};
  TIFFOpenOptions* opts = TIFFOpenOptionsAlloc();
  if (!opts) fail_at(s, kFmt, "out of memory");
  TIFFOpenOptionsSetErrorHandlerExtR(opts, on_error, &mem);
  TIFFOpenOptionsSetWarningHandlerExtR(opts, on_warning, &mem);
  std::unique_ptr<TIFF, TiffCloser> tif(TIFFClientOpenExt(s.label.c_str(), "r", &mem, mem_read, mem_write, mem_seek,
                                                           mem_close, mem_size, mem_map, mem_unmap, opts));
  TIFFOpenOptionsFree(opts);
  auto failure = [&](const char* what) {
    fail_at(s, kFmt, what, mem.error.empty() ? "" : ": ", mem.error);
  };
  if (!tif) failure("cannot read the header or first directory");

  const Fields f = read_fields(tif.get());
  const uint32_t w = f.width, h = f.height;
  const uint16_t bps = f.bps, spp = f.spp, photo = f.photometric, planar = f.planar;
  Layout layout{};
  if (!pick_layout(photo, f.sample_format, bps, spp, f.extra, TIFFIsBigEndian(tif.get()) != 0, &layout))
    fail_at(s, kFmt, "unsupported pixel layout (photometric ", photo, ", sample format ", f.sample_format, ", ", spp,
            " samples of ", bps, " bits, ", f.extra.size(), " extra)");
  if (photo != PHOTOMETRIC_YCBCR && planar == PLANARCONFIG_SEPARATE && spp > 1 && bps % 8 != 0)
    fail_at(s, kFmt, "unsupported layout: separate planes of ", bps, "-bit samples");
  check_dimensions(s, kFmt, w, h);

  Image img;
  img.format = "TIFF";
  img.mode = layout.mode;
  img.width = int(w);
  img.height = int(h);
  img.exif_orientation = normalize_orientation(f.orientation);
  allocate_pixels(img);

  if (photo == PHOTOMETRIC_YCBCR && !(f.compression == COMPRESSION_JPEG && planar == PLANARCONFIG_CONTIG)) {
    // libtiff's RGBA converter handles the subsampling (Pillow's _decodeAsRGBA); output is ABGR
    // packed in uint32, alpha ignored for this RGB image.
    std::vector<uint32_t> raster(size_t(w) * h);
    if (!TIFFReadRGBAImageOriented(tif.get(), w, h, raster.data(), ORIENTATION_TOPLEFT, 0))
      failure("cannot decode YCbCr image data");
    for (size_t i = 0; i < raster.size(); ++i) {
      img.pixels[3 * i] = uint8_t(TIFFGetR(raster[i]));
      img.pixels[3 * i + 1] = uint8_t(TIFFGetG(raster[i]));
      img.pixels[3 * i + 2] = uint8_t(TIFFGetB(raster[i]));
    }
  } else {
    if (photo == PHOTOMETRIC_YCBCR) TIFFSetField(tif.get(), TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    const size_t row_bytes = (size_t(w) * spp * bps + 7) / 8;
    std::vector<uint8_t> raw(row_bytes * h);
    if (!read_samples(tif.get(), w, h, spp, bps, planar == PLANARCONFIG_SEPARATE, row_bytes, raw))
      failure("cannot decode image data (corrupt or truncated)");
    for (uint32_t y = 0; y < h; ++y)
      unpack_row(layout, spp, bps, raw.data() + size_t(y) * row_bytes, img.row(int(y)), w);
  }

  if (img.mode == Mode::kP || img.mode == Mode::kPA) {
    uint16_t *r = nullptr, *g = nullptr, *b = nullptr;
    if (!TIFFGetField(tif.get(), TIFFTAG_COLORMAP, &r, &g, &b) || !r || !g || !b)
      fail_at(s, kFmt, "palette image without a colour map");
    const size_t n = size_t(1) << std::min<uint16_t>(bps, 8);
    img.palette.resize(n);
    // Pillow keeps the high byte of each 16-bit colour map entry.
    for (size_t i = 0; i < n; ++i) img.palette[i] = {uint8_t(r[i] >> 8), uint8_t(g[i] >> 8), uint8_t(b[i] >> 8), 255};
  }
  if (f.orientation >= 2 && f.orientation <= 8) img = orient(img, f.orientation);
  return img;
}

}  // namespace clipkit::image::detail
