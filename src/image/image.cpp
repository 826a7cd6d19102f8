// Names and sample layouts of Pillow's modes (see image.h).
#include "image/image.h"

namespace clipkit::image {

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::kOne: return "1";
    case Mode::kL: return "L";
    case Mode::kLA: return "LA";
    case Mode::kP: return "P";
    case Mode::kPA: return "PA";
    case Mode::kRGB: return "RGB";
    case Mode::kRGBA: return "RGBA";
    case Mode::kCMYK: return "CMYK";
    case Mode::kI16: return "I;16";
    case Mode::kI: return "I";
    case Mode::kF: return "F";
  }
  return "?";
}

int mode_channels(Mode m) {
  switch (m) {
    case Mode::kLA:
    case Mode::kPA: return 2;
    case Mode::kRGB: return 3;
    case Mode::kRGBA:
    case Mode::kCMYK: return 4;
    default: return 1;
  }
}

int mode_sample_bytes(Mode m) {
  switch (m) {
    case Mode::kI16: return 2;
    case Mode::kI:
    case Mode::kF: return 4;
    default: return 1;
  }
}

}  // namespace clipkit::image
