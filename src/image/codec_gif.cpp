// GIF, first frame, the way Pillow 9.4's GifImagePlugin and GifDecode.c read it. This is a small
// self-contained decoder rather than giflib because Pillow's container and LZW handling differ
// from giflib's in ways that change results: bytes between blocks that are not '!', ',' or ';'
// are skipped; a frame larger than the logical screen enlarges the image; the decode is complete
// as soon as the last pixel is written (whatever follows); an identity grey palette makes the
// image "L"; LZW codes keep only their low 8 bits as pixel values.
//
// Mode: "P" with the frame's palette (local, else global) unless that palette is absent or the
// identity grey ramp, then "L". Pixels outside the first frame hold the transparency index when
// the frame has one, else 0. The transparency index becomes alpha 0 in the palette.
#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "image/codec_common.h"

namespace clipkit::image::detail {
namespace {

constexpr const char* kFmt = "GIF";

struct Cursor {
  const Source& s;
  size_t pos;

  size_t left() const { return s.size - pos; }
  int byte() { return pos < s.size ? s.data[pos++] : -1; }
  uint32_t u16(size_t at) const { return uint32_t(s.data[at]) | uint32_t(s.data[at + 1]) << 8; }
  // Pillow's data(): one sub-block; nullopt for the terminator (or EOF). A short read returns
  // what is there, as file.read does.
  std::optional<std::pair<size_t, size_t>> sub_block() {
    const int n = byte();
    if (n <= 0) return std::nullopt;
    const size_t len = size_t(n) < left() ? size_t(n) : left();
    const size_t at = pos;
    pos += len;
    return std::make_pair(at, len);
  }
};

// The palette is "needed" unless entry i is (i, i, i) for every entry.
bool palette_needed(const uint8_t* p, size_t entries) {
  for (size_t i = 0; i < entries; ++i)
    if (p[3 * i] != i || p[3 * i + 1] != i || p[3 * i + 2] != i) return true;
  return false;
}

struct Frame {
  uint32_t x0, y0, w, h;
  bool interlace;
  int bits;           // LZW minimum code size
  size_t data;        // offset of the first sub-block of image data
  std::optional<std::vector<uint8_t>> palette;  // the frame's palette, when "needed"
  int transparency = -1;
};

// Pillow's GifDecode.c: a table-driven LZW decoder writing into the frame rectangle, finished
// when the last row is complete.
class Lzw {
 public:
  Lzw(const Source& s, const Frame& f, Image& img) : s_(s), f_(f), img_(img) {}

  void run() {
    if (f_.bits < 0 || f_.bits > 12) fail_at(s_, kFmt, "invalid LZW code size ", f_.bits);
    const int clear = 1 << f_.bits, end = clear + 1;
    int state = 1, next = 0, codesize = 0, codemask = 0, lastcode = 0;
    uint8_t lastdata = 0;
    uint32_t bitbuffer = 0;
    int bitcount = 0;
    size_t pos = f_.data, blockleft = 0;
    if (f_.interlace) {
      pass_ = 1;
      step_ = 8;
    }
    while (true) {
      if (state == 1) {
        next = clear + 2;
        codesize = f_.bits + 1;
        codemask = (1 << codesize) - 1;
        state = 2;
      }
      while (bitcount < codesize) {
        if (blockleft > 0) {
          bitbuffer |= uint32_t(s_.data[pos++]) << bitcount;
          bitcount += 8;
          --blockleft;
        } else {
          // Pillow only starts a sub-block once all of it is available.
          if (pos >= s_.size || s_.size - pos < size_t(s_.data[pos]) + 1)
            fail_at(s_, kFmt, "file truncated: image data ends at byte ", s_.size, " before the frame is complete");
          blockleft = s_.data[pos++];
        }
      }
      int c = int(bitbuffer & uint32_t(codemask));
      bitbuffer >>= codesize;
      bitcount -= codesize;
      if (c == clear) {
        if (state != 2) state = 1;
        continue;
      }
      if (c == end)
        fail_at(s_, kFmt, "image data ends (end code near byte ", pos, ") before the frame is complete");
      int n = 1;
      const uint8_t* p = &lastdata;
      if (state == 2) {
        if (c > clear) fail_at(s_, kFmt, "corrupt image data: invalid first code ", c, " near byte ", pos);
        lastdata = uint8_t(c);
        lastcode = c;
        state = 3;
      } else {
        const int thiscode = c;
        if (c > next) fail_at(s_, kFmt, "corrupt image data: code ", c, " beyond table size ", next, " near byte ", pos);
        // The chain buffer holds at most kTable symbols (Pillow's GIFBUFFER); one more slot in
        // stack_ takes the string's first symbol.
        size_t bi = kTable + 1;
        if (c == next) {
          stack_[--bi] = lastdata;
          c = lastcode;
        }
        while (c >= clear) {
          if (bi <= 1 || c >= kTable) fail_at(s_, kFmt, "corrupt image data near byte ", pos);
          stack_[--bi] = data_[c];
          c = link_[c];
        }
        lastdata = uint8_t(c);
        stack_[--bi] = lastdata;  // the string's first symbol
        if (next < kTable) {
          data_[next] = uint8_t(c);
          link_[next] = lastcode;
          if (next == codemask && codesize < 12) {
            ++codesize;
            codemask = (1 << codesize) - 1;
          }
          ++next;
        }
        lastcode = thiscode;
        p = stack_ + bi;
        n = int(kTable + 1 - bi);
      }
      for (int i = 0; i < n; ++i)
        if (put(p[i])) return;
    }
  }

 private:
  static constexpr int kTable = 4096;

  // Writes one pixel; true when the frame is complete (Pillow's NEWLINE returning -1).
  bool put(uint8_t v) {
    img_.pixels[size_t(f_.y0 + y_) * img_.width + f_.x0 + x_] = v;
    if (++x_ < f_.w) return false;
    x_ = 0;
    y_ += step_;
    while (y_ >= f_.h) {
      switch (pass_) {
        case 1: y_ = 4; pass_ = 2; break;
        case 2: step_ = 4; y_ = 2; pass_ = 3; break;
        case 3: step_ = 2; y_ = 1; pass_ = 0; break;
        default: return true;
      }
    }
    return false;
  }

  const Source& s_;
  const Frame& f_;
  Image& img_;
  uint32_t x_ = 0, y_ = 0, step_ = 1;
  int pass_ = 0;
  uint8_t data_[kTable] = {};
  int link_[kTable] = {};
  uint8_t stack_[kTable + 1] = {};
};

// Walks the blocks up to the first image descriptor, as GifImageFile._seek(0) does.
Frame find_first_frame(const Source& s, size_t pos) {
  Cursor c{s, pos};
  Frame f{};
  while (true) {
    const int b = c.byte();
    if (b < 0 || b == ';') fail_at(s, kFmt, "no image in file (ends at byte ", c.pos, ")");
    if (b == '!') {
      const int label = c.byte();
      if (label < 0) fail_at(s, kFmt, "file truncated in an extension at byte ", c.pos);
      const auto first = c.sub_block();
      if (label == 0xF9 || label == 0xFF) {
        if (!first) fail_at(s, kFmt, "empty extension block at byte ", c.pos);
        if (label == 0xF9) {
          if (first->second < 4) fail_at(s, kFmt, "short graphic control extension at byte ", first->first);
          if (s.data[first->first] & 1) f.transparency = s.data[first->first + 3];
        }
      }
      if (first)
        while (c.sub_block()) {
        }
    } else if (b == ',') {
      if (c.left() < 9) fail_at(s, kFmt, "file truncated in an image descriptor at byte ", c.pos);
      const size_t d = c.pos;
      f.x0 = c.u16(d);
      f.y0 = c.u16(d + 2);
      f.w = c.u16(d + 4);
      f.h = c.u16(d + 6);
      const uint8_t flags = s.data[d + 8];
      f.interlace = (flags & 64) != 0;
      c.pos += 9;
      if (flags & 128) {
        const size_t entries = size_t(1) << ((flags & 7) + 1);
        if (c.left() < 3 * entries) fail_at(s, kFmt, "file truncated in a local palette at byte ", c.pos);
        const uint8_t* p = s.data + c.pos;
        if (palette_needed(p, entries))
          f.palette = std::vector<uint8_t>(p, p + 3 * entries);
        else
          f.palette = std::vector<uint8_t>();  // present but the identity ramp: no palette
        c.pos += 3 * entries;
      }
      const int bits = c.byte();
      if (bits < 0) fail_at(s, kFmt, "file truncated before the image data at byte ", c.pos);
      f.bits = bits;
      f.data = c.pos;
      return f;
    }
    // Anything else between blocks is skipped, as Pillow does.
  }
}

}  // namespace

Image decode_gif(const Source& s) {
  if (s.size < 13) fail_at(s, kFmt, "file truncated in the header (", s.size, " bytes)");
  Cursor c{s, 13};
  uint32_t width = c.u16(6), height = c.u16(8);
  const uint8_t flags = s.data[10];
  std::optional<std::vector<uint8_t>> global;
  if (flags & 128) {
    const size_t entries = size_t(1) << ((flags & 7) + 1);
    if (c.left() < 3 * entries) fail_at(s, kFmt, "file truncated in the global palette at byte ", c.pos);
    const uint8_t* p = s.data + c.pos;
    if (palette_needed(p, entries)) global = std::vector<uint8_t>(p, p + 3 * entries);
    c.pos += 3 * entries;
  }
  Frame f = find_first_frame(s, c.pos);
  // A frame reaching past the logical screen enlarges the image (Pillow checks the bomb limit
  // on the enlarged size).
  width = std::max(width, f.x0 + f.w);
  height = std::max(height, f.y0 + f.h);
  check_dimensions(s, kFmt, width, height);
  if (f.w == 0 || f.h == 0) fail_at(s, kFmt, "empty first frame");

  // The frame's palette: its own when it has one (an identity ramp counts as none), else global.
  const std::vector<uint8_t>* palette = nullptr;
  if (f.palette)
    palette = f.palette->empty() ? nullptr : &*f.palette;
  else if (global)
    palette = &*global;

  Image img;
  img.format = "GIF";
  img.mode = palette ? Mode::kP : Mode::kL;
  img.width = int(width);
  img.height = int(height);
  img.pixels.assign(size_t(width) * height, uint8_t(f.transparency >= 0 ? f.transparency : 0));
  if (palette) {
    const size_t n = palette->size() / 3;
    img.palette.resize(n);
    for (size_t i = 0; i < n; ++i)
      img.palette[i] = {(*palette)[3 * i], (*palette)[3 * i + 1], (*palette)[3 * i + 2], 255};
    if (f.transparency >= 0) {
      img.palette_has_alpha = true;
      if (size_t(f.transparency) < n) img.palette[f.transparency][3] = 0;
    }
  }
  auto lzw = std::make_unique<Lzw>(s, f, img);
  lzw->run();
  return img;
}

}  // namespace clipkit::image::detail
