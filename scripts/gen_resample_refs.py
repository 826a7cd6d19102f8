#!/usr/bin/python3
"""Generates tests/data/resample/refs.safetensors: Pillow's Image.resize on small images of every
mode clipkit resamples, with every filter, for down-, up- and mixed scaling, boxes, one-pass
resizes (width or height unchanged) and extreme aspect ratios.

Run with Debian 12's interpreter and its python3-pil (Pillow 9.4.0), the version the preprocessing
fixtures were made with:

    /usr/bin/python3 scripts/gen_resample_refs.py

The output is deterministic (fixed seeds). Layout of the file:
  in/<name>   the input pixels, HWC (HW for one-channel modes is stored as HW1): U8 for the 8-bit
              modes ("1" stored as 0/255, P as palette indices, PA as index + alpha), I32 for "I"
              and "I;16", F32 for "F".
  out/<id>    Pillow's result in the same layout (only the window [x, y, w, h] when the case has one).
  __metadata__["cases"]: JSON list of {"id", "mode", "input" (a key, or null when generated),
              "gen" (for generated inputs: {"kind": "hash", "seed"}, see hash_pixels below),
              "in_size" [w, h], "out_size" [w, h], "filter", "box" (null or 4 numbers),
              "window" (null or [x, y, w, h])}.
"""
import json
import os
import struct
import sys

import numpy as np
import PIL
from PIL import Image

FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "hamming": Image.Resampling.HAMMING,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
CHANNELS = {"1": 1, "L": 1, "P": 1, "LA": 2, "PA": 2, "RGB": 3, "RGBA": 4, "CMYK": 4,
            "I": 1, "F": 1, "I;16": 1}


def hash_pixels(seed, w, h, c):
    """Deterministic noise the C++ test regenerates bit for bit (uint32 arithmetic):
    v = x*73856093 ^ y*19349663 ^ ch*83492791 ^ seed*2654435761; v ^= v >> 13;
    v *= 0x5bd1e995; v ^= v >> 15; pixel = v & 255."""
    y, x, ch = np.meshgrid(np.arange(h, dtype=np.uint64), np.arange(w, dtype=np.uint64),
                           np.arange(c, dtype=np.uint64), indexing="ij")
    m = np.uint64(0xFFFFFFFF)
    v = ((x * np.uint64(73856093)) & m) ^ ((y * np.uint64(19349663)) & m) ^ \
        ((ch * np.uint64(83492791)) & m) ^ ((np.uint64(seed) * np.uint64(2654435761)) & m)
    v ^= v >> np.uint64(13)
    v = (v * np.uint64(0x5BD1E995)) & m
    v ^= v >> np.uint64(15)
    return (v & np.uint64(255)).astype(np.uint8)


def random_pixels(rng, mode, w, h):
    """Input samples for `mode`, with the extremes every rounding path must see."""
    c = CHANNELS[mode]
    if mode == "1":
        return (rng.randint(0, 2, (h, w, 1)) * 255).astype(np.uint8)
    if mode == "P":
        return rng.randint(0, 48, (h, w, 1)).astype(np.uint8)
    if mode == "I":
        a = rng.randint(-200000, 200000, (h, w, 1)).astype(np.int32)
        a.flat[:4] = [0, 2**24, -2**24, 1]
        return a
    if mode == "I;16":
        return rng.randint(0, 65536, (h, w, 1)).astype(np.int32)
    if mode == "F":
        a = (rng.standard_normal((h, w, 1)) * 1000).astype(np.float32)
        a.flat[:3] = [0.0, 1e30, -3.5]
        return a
    a = rng.randint(0, 256, (h, w, c)).astype(np.uint8)
    # Flat areas of 0 and 255 (and, for alpha modes, alpha exactly 0 or 255) next to noise.
    a[: h // 3, : w // 4, :] = 255
    a[h // 3 : 2 * h // 3, : w // 5, :] = 0
    if mode in ("RGBA", "LA", "PA"):
        a[:, w // 2 : w // 2 + 3, -1] = 0
        a[:, w // 2 + 3 : w // 2 + 6, -1] = 255
    return a


def to_pil(mode, a):
    h, w = a.shape[:2]
    if mode == "1":
        return Image.fromarray(a[:, :, 0], "L").convert("1", dither=Image.Dither.NONE)
    if mode == "P":
        im = Image.fromarray(a[:, :, 0], "P")
        im.putpalette([(i * 7) % 256 for i in range(256 * 3)])
        return im
    if mode == "PA":
        return Image.frombytes("PA", (w, h), a.tobytes())
    if mode == "I":
        return Image.fromarray(a[:, :, 0].astype(np.int32), "I")
    if mode == "I;16":
        return Image.fromarray(a[:, :, 0].astype(np.uint16), "I;16")
    if mode == "F":
        return Image.fromarray(a[:, :, 0], "F")
    if mode == "L":
        return Image.fromarray(a[:, :, 0], "L")
    return Image.fromarray(a, mode)


def from_pil(mode, im):
    if mode == "1":
        return (np.array(im).astype(np.uint8) * 255)[:, :, None]
    if mode == "PA":
        return np.frombuffer(im.tobytes(), np.uint8).reshape(im.size[1], im.size[0], 2).copy()
    a = np.array(im)
    if mode in ("I", "I;16"):
        a = a.astype(np.int32)
    if a.ndim == 2:
        a = a[:, :, None]
    return a


def write_safetensors(path, tensors, metadata):
    dt = {np.dtype(np.uint8): ("U8", 1), np.dtype(np.int32): ("I32", 4),
          np.dtype(np.float32): ("F32", 4)}
    items = sorted(tensors.items(), key=lambda kv: (-dt[kv[1].dtype][1], kv[0]))
    header, blobs, off = {}, [], 0
    for name, a in items:
        b = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dt[a.dtype][0], "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_path = os.path.join(root, "tests", "data", "resample", "refs.safetensors")
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    rng = np.random.RandomState(20240611)
    tensors, cases = {}, []

    def add_case(mode, src_key, src, size, filt, box=None, window=None, gen=None):
        im = to_pil(mode, src)
        out = im.resize(size, FILTERS[filt], box=box)
        assert out.mode == mode, (mode, out.mode)
        a = from_pil(mode, out)
        if window is not None:
            x, y, w, h = window
            a = a[y : y + h, x : x + w]
        cid = f"{len(cases):03d}_{mode.replace(';', '')}_{im.size[0]}x{im.size[1]}_to_" \
              f"{size[0]}x{size[1]}_{filt}" + ("_box" if box else "")
        tensors["out/" + cid] = np.ascontiguousarray(a)
        cases.append({"id": cid, "mode": mode, "input": src_key, "gen": gen,
                      "in_size": list(im.size), "out_size": list(size), "filter": filt,
                      "box": list(box) if box else None, "window": window})

    # Every mode x every filter x five scalings of one 37x23 image: shrink, enlarge, shrink one
    # axis while enlarging the other, and the two one-pass cases (an unchanged axis is skipped).
    sizes = [(11, 7), (50, 31), (23, 40), (37, 9), (13, 23)]
    for mode in ["L", "LA", "RGB", "RGBA", "CMYK", "P", "PA", "1", "I", "F", "I;16"]:
        src = random_pixels(rng, mode, 37, 23)
        key = "in/" + mode.replace(";", "") + "_37x23"
        tensors[key] = src
        for filt in FILTERS:
            if mode == "I;16" and filt != "nearest":
                continue  # Pillow 9.4 refuses: "image has wrong mode"
            for size in sizes:
                add_case(mode, key, src, size, filt)

    # Boxes (Pillow resamples a float sub-rectangle), including an integer box of the output size,
    # which Pillow turns into a plain crop.
    src = random_pixels(rng, "RGBA", 29, 31)
    tensors["in/RGBA_29x31"] = src
    for filt in FILTERS:
        add_case("RGBA", "in/RGBA_29x31", src, (17, 12), filt, box=(3.5, 2.25, 27.75, 30.5))
        add_case("RGBA", "in/RGBA_29x31", src, (9, 40), filt, box=(0.0, 5.0, 29.0, 11.125))
    add_case("RGBA", "in/RGBA_29x31", src, (10, 12), "bicubic", box=(4.0, 3.0, 14.0, 15.0))
    src = random_pixels(rng, "P", 29, 31)
    tensors["in/P_29x31"] = src
    add_case("P", "in/P_29x31", src, (40, 13), "bicubic", box=(1.5, 2.5, 20.25, 30.0))
    src = random_pixels(rng, "F", 29, 31)
    tensors["in/F_29x31"] = src
    add_case("F", "in/F_29x31", src, (17, 12), "lanczos", box=(3.5, 2.25, 27.75, 30.5))

    # Odd shapes: the 7x5 fixture's enlargement to 313x224 in the alpha and grey paths, 1-pixel
    # rows and columns, a 1x1 image, and a same-size resize (a copy). Only a band of rows of the
    # large outputs is stored.
    for mode in ["RGBA", "LA", "L", "CMYK"]:
        src = random_pixels(rng, mode, 7, 5)
        key = "in/" + mode + "_7x5"
        tensors[key] = src
        add_case(mode, key, src, (313, 224), "bicubic", window=[44, 96, 224, 40])
        for filt in FILTERS:
            add_case(mode, key, src, (45, 32), filt)
    for mode, (w, h), size in [("RGB", (1, 9), (5, 4)), ("RGB", (9, 1), (4, 3)),
                               ("L", (1, 1), (6, 5)), ("RGB", (40, 1), (3, 1)),
                               ("RGB", (23, 17), (23, 17)), ("F", (1, 7), (3, 2)),
                               ("I", (13, 1), (40, 2))]:
        src = random_pixels(rng, mode, w, h)
        key = f"in/{mode}_{w}x{h}"
        tensors[key] = src
        for filt in FILTERS:
            add_case(mode, key, src, size, filt)

    # Generated (hash noise) inputs too large to store: a 3000x200 panorama enlarged to 3360x224 as
    # OpenAI's Resize(224) does (only the centre-crop window is stored), shrunk hard, and a
    # large-factor shrink of a tall image.
    for (w, h, c, mode, seed, size, filt, window) in [
        (3000, 200, 3, "RGB", 1, (3360, 224), "bicubic", [1568, 0, 224, 224]),
        (3000, 200, 3, "RGB", 1, (224, 14), "lanczos", None),
        (3000, 200, 4, "RGBA", 2, (336, 22), "bicubic", None),
        (3000, 200, 1, "L", 3, (97, 3), "box", None),
        (500, 1300, 3, "RGB", 4, (32, 83), "bicubic", None),
        (500, 1300, 3, "RGB", 4, (7, 1), "hamming", None),
        (640, 427, 3, "RGB", 5, (335, 224), "bilinear", [56, 0, 224, 48]),
    ]:
        src = hash_pixels(seed, w, h, c)
        if c == 1:
            src = src[:, :, :1]
        add_case(mode, None, src, size, filt, window=window, gen={"kind": "hash", "seed": seed})

    meta = {
        "cases": json.dumps(cases, separators=(",", ":")),
        "pillow": PIL.__version__,
        "generator": "scripts/gen_resample_refs.py (Debian 12 /usr/bin/python3, python3-pil)",
        "layout": "HWC (one-channel modes HW1); mode 1 as 0/255; P/PA as indices; I and I;16 as I32",
    }
    write_safetensors(out_path, tensors, meta)
    print(f"wrote {len(cases)} cases, {len(tensors)} tensors to {out_path} "
          f"({os.path.getsize(out_path)} bytes) with Pillow {PIL.__version__}", file=sys.stderr)


if __name__ == "__main__":
    if PIL.__version__ != "9.4.0":
        sys.exit(f"Pillow 9.4.0 expected (Debian 12's python3-pil), found {PIL.__version__}")
    main()
