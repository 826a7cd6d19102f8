#!/usr/bin/python3
"""Generates the decoder test images in this folder and Pillow's reference results for them.

Run from anywhere with Debian's python3 (Pillow 9.4.0, numpy): /usr/bin/python3 make_images.py
The files written here were made by Pillow 9.4.0 (the version is checked below); every reference
value is what Pillow 9.4.0's Image.open / convert("RGB") / ImageOps.exif_transpose return.

Outputs (all in this folder):
  gen/*                 small images in every format and layout the decoder handles, written by
                        Pillow or, for layouts Pillow cannot write, by the small writers below
  bad/*                 malformed files (wrong magic, huge or zero sizes, garbage, corrupt data)
  reference.json        per image: Pillow's format, mode, size, EXIF orientation, FNV-1a-64 of the
                        decoded samples, of the palette, of convert("RGB") and of exif_transpose;
                        for every bad file, and for valid files cut at many lengths, whether
                        Pillow refuses it
  convert.safetensors   synthetic images in every mode with Pillow's convert("RGB") output

FNV-1a-64 is taken over the samples laid out as clipkit's Image stores them: row-major,
interleaved, native byte order; mode "1" as one byte 0/255 per pixel; "I;16B" as native I;16;
"RGBX" as RGB. The palette hash covers the palette's RGB triples in order.
"""
import io
import json
import warnings
import os
import struct
import sys
import zlib

import numpy as np
import PIL
from PIL import Image, ImageOps

assert PIL.__version__ == "9.4.0", "references must come from Pillow 9.4.0, found " + PIL.__version__

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))  # tests/data
GEN = os.path.join(HERE, "gen")
BAD = os.path.join(HERE, "bad")
RNG = np.random.default_rng(20240611)


# ---------------------------------------------------------------------------------------------
# Reference values

def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    # numpy-free but chunked for speed on large images
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def canonical_bytes(im):
    if im.mode == "1":
        return im.convert("L").tobytes(), "1"
    if im.mode == "I;16B":
        return np.frombuffer(im.tobytes(), ">u2").astype("<u2").tobytes(), "I;16"
    if im.mode == "RGBX":
        return im.convert("RGB").tobytes(), "RGB"
    return im.tobytes(), im.mode


def palette_info(im):
    if im.mode not in ("P", "PA"):
        return None
    pal = im.getpalette() or []
    entries = len(pal) // 3
    alpha = [255] * entries
    t = im.info.get("transparency")
    if isinstance(t, bytes):
        for i, a in enumerate(t[:entries]):
            alpha[i] = a
    elif isinstance(t, int) and t < entries:
        alpha[t] = 0
    return {"entries": entries, "rgb_fnv": fnv1a64(bytes(pal[: entries * 3])), "alpha": alpha,
            "has_alpha": t is not None}


def orientation_of(im):
    try:
        o = im.getexif().get(0x0112)
    except Exception:
        return 1
    return o if isinstance(o, int) and 1 <= o <= 8 else 1


def describe(path):
    with Image.open(path) as im:
        im.load()
        data, mode = canonical_bytes(im)
        entry = {
            "format": im.format,
            "mode": mode,
            "pil_mode": im.mode,
            "width": im.size[0],
            "height": im.size[1],
            "orientation": orientation_of(im),
            "pixels_fnv": fnv1a64(data),
            "rgb_fnv": fnv1a64(im.convert("RGB").tobytes()),
        }
        pal = palette_info(im)
        if pal:
            entry["palette"] = pal
        t = ImageOps.exif_transpose(im)
        tdata, _ = canonical_bytes(t)
        entry["transposed"] = {"width": t.size[0], "height": t.size[1], "pixels_fnv": fnv1a64(tdata)}
        return entry


def pillow_outcome(path):
    """{"pillow_refuses": True} or, when Pillow opens the file, its description."""
    try:
        entry = describe(path)
    except Exception:
        return {"pillow_refuses": True}
    entry["pillow_refuses"] = False
    return entry


# ---------------------------------------------------------------------------------------------
# Test content

def gradient(w, h, channels, seed=0):
    y, x = np.mgrid[0:h, 0:w]
    planes = []
    for c in range(channels):
        v = (x * (37 + 11 * c) + y * (23 + 7 * c) + seed * 13 + c * 50) % 256
        planes.append(v)
    a = np.stack(planes, -1).astype(np.uint8)
    noise = RNG.integers(0, 24, a.shape, dtype=np.uint8)
    return (a + noise).astype(np.uint8)


def photo(w, h):
    """A natural-looking RGB image: a resized crop of a fixture photo."""
    with Image.open(os.path.join(ROOT, "images", "chelsea.png")) as im:
        return im.convert("RGB").resize((w, h), Image.BICUBIC)


# ---------------------------------------------------------------------------------------------
# A PNG writer for layouts Pillow cannot save (2/4-bit grey, 16-bit grey+alpha, tRNS variants,
# Adam7 interlacing, metadata chunks in chosen places).

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pack_row(samples, bit_depth):
    """samples: 1-D array of ints for one row (all channels interleaved)."""
    if bit_depth == 16:
        return np.asarray(samples, ">u2").tobytes()
    if bit_depth == 8:
        return np.asarray(samples, np.uint8).tobytes()
    per = 8 // bit_depth
    out = bytearray()
    s = list(samples) + [0] * ((-len(samples)) % per)
    for i in range(0, len(s), per):
        b = 0
        for k in range(per):
            b = (b << bit_depth) | (s[i + k] & ((1 << bit_depth) - 1))
        out.append(b)
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, arr, bit_depth, color_type, plte=None, trns=None, interlace=False,
              before_idat=(), after_idat=(), idat_split=None):
    """arr: (h, w, channels) integer array of samples."""
    h, w = arr.shape[:2]
    ch = arr.shape[2]
    raw = bytearray()
    if not interlace:
        for y in range(h):
            raw += b"\0" + pack_row(arr[y].reshape(-1), bit_depth)
    else:
        for x0, y0, dx, dy in ADAM7:
            sub = arr[y0::dy, x0::dx]
            if sub.shape[0] == 0 or sub.shape[1] == 0:
                continue
            for y in range(sub.shape[0]):
                raw += b"\0" + pack_row(sub[y].reshape(-1), bit_depth)
    z = zlib.compress(bytes(raw), 9)
    out = b"\x89PNG\r\n\x1a\n"
    out += png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0))
    for kind, data in before_idat:
        out += png_chunk(kind, data)
    if plte is not None:
        out += png_chunk(b"PLTE", bytes(plte))
    if trns is not None:
        out += png_chunk(b"tRNS", bytes(trns))
    parts = [z] if not idat_split else [z[i:i + idat_split] for i in range(0, len(z), idat_split)]
    for p in parts:
        out += png_chunk(b"IDAT", p)
    for kind, data in after_idat:
        out += png_chunk(kind, data)
    out += png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(out)
    assert ch >= 1


def exif_block(orientation, endian="<", typ=3, count=1):
    """A minimal TIFF/EXIF block whose IFD0 holds the orientation tag."""
    bo = b"II" if endian == "<" else b"MM"
    head = bo + struct.pack(endian + "HI", 42, 8)
    if typ == 3:
        val = struct.pack(endian + "HH", orientation, 0)
    elif typ == 4:
        val = struct.pack(endian + "I", orientation)
    else:
        raise ValueError(typ)
    ifd = struct.pack(endian + "H", 1) + struct.pack(endian + "HHI", 0x0112, typ, count) + val + struct.pack(endian + "I", 0)
    return head + ifd


# ---------------------------------------------------------------------------------------------
# GIF writer (uncompressed-style LZW: a clear code before the table would grow a code width)

def lzw_literal_stream(indices, min_bits):
    clear = 1 << min_bits
    end = clear + 1
    width = min_bits + 1
    codes = [clear]
    run = 0
    # After a clear code, n codes add n - 1 table entries from clear + 2 on; the decoder widens the
    # codes when the entry (1 << width) - 1 is added, so at most (1 << width) - clear - 2 codes.
    limit = (1 << width) - clear - 2
    for v in indices:
        codes.append(int(v))
        run += 1
        if run >= limit:
            codes.append(clear)
            run = 0
    codes.append(end)
    bits = 0
    nbits = 0
    out = bytearray()
    for c in codes:
        bits |= c << nbits
        nbits += width
        while nbits >= 8:
            out.append(bits & 255)
            bits >>= 8
            nbits -= 8
    if nbits:
        out.append(bits & 255)
    blocks = bytearray()
    for i in range(0, len(out), 255):
        part = out[i:i + 255]
        blocks += bytes([len(part)]) + part
    blocks += b"\0"
    return bytes(blocks)


def gif_palette_bytes(pal, bits):
    n = 1 << bits
    p = list(pal) + [0] * (3 * n - len(pal))
    return bytes(p[: 3 * n])


def write_gif(path, screen, frames, global_pal=None, gbits=None, junk_before_frame=b""):
    """frames: list of dicts {x, y, idx (h,w uint8), pal=None, lbits, transparency=None, interlace=False}"""
    sw, sh = screen
    out = bytearray(b"GIF89a")
    flags = 0
    if global_pal is not None:
        flags = 0x80 | (gbits - 1) | ((gbits - 1) << 4)
    out += struct.pack("<HHBBB", sw, sh, flags, 0, 0)
    if global_pal is not None:
        out += gif_palette_bytes(global_pal, gbits)
    for fr in frames:
        out += junk_before_frame
        if fr.get("transparency") is not None:
            out += b"!\xf9\x04" + bytes([1]) + struct.pack("<H", 0) + bytes([fr["transparency"]]) + b"\0"
        idx = fr["idx"]
        h, w = idx.shape
        lflags = 0
        if fr.get("pal") is not None:
            lflags |= 0x80 | (fr["lbits"] - 1)
        if fr.get("interlace"):
            lflags |= 0x40
        out += b"," + struct.pack("<HHHHB", fr["x"], fr["y"], w, h, lflags)
        if fr.get("pal") is not None:
            out += gif_palette_bytes(fr["pal"], fr["lbits"])
        rows = list(range(h))
        if fr.get("interlace"):
            rows = list(range(0, h, 8)) + list(range(4, h, 8)) + list(range(2, h, 4)) + list(range(1, h, 2))
        flat = np.concatenate([idx[r] for r in rows])
        min_bits = max(2, fr.get("lbits") or gbits or 8)
        out += bytes([min_bits]) + lzw_literal_stream(flat, min_bits)
    out += b";"
    with open(path, "wb") as f:
        f.write(out)


# ---------------------------------------------------------------------------------------------
# BMP writer for layouts Pillow does not save

def write_bmp(path, w, h, bits, pixel_rows, palette=None, header=40, compression=0, masks=None,
              top_down=False, rle_data=None, colors_used=0):
    """pixel_rows: list of row byte strings in storage order (bottom-up unless top_down)."""
    pal = b""
    if palette is not None:
        for r, g, b in palette:
            pal += bytes([b, g, r]) + (b"" if header == 12 else b"\0")
    if rle_data is not None:
        data = rle_data
    else:
        stride = ((w * bits + 31) >> 3) & ~3
        data = b"".join(r + b"\0" * (stride - len(r)) for r in pixel_rows)
    extra = b""
    if header == 12:
        info = struct.pack("<IHHHH", 12, w, h, 1, bits)
    else:
        height = (-h) & 0xFFFFFFFF if top_down else h
        info = struct.pack("<IIIHHIIiiII", header, w, height, 1, bits, compression, len(data), 2835, 2835,
                           colors_used, 0)
        if header > 40:
            m = masks or (0, 0, 0, 0)
            info += struct.pack("<IIII", *m)
            info += b"\0" * (header - len(info))
        elif masks is not None:
            extra = struct.pack("<III", *masks[:3])
    offset = 14 + len(info) + len(extra) + len(pal)
    head = b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset)
    with open(path, "wb") as f:
        f.write(head + info + extra + pal + data)


def rle8_encode(rows):
    out = bytearray()
    for r in rows:
        i = 0
        while i < len(r):
            j = i
            while j < len(r) and j - i < 255 and r[j] == r[i]:
                j += 1
            if j - i >= 3 or len(r) - i < 3:
                out += bytes([j - i, r[i]])
                i = j
            else:
                n = min(len(r) - i, 255)
                k = i + 3
                while k < len(r) and k - i < n and not (k + 2 < len(r) and r[k] == r[k + 1] == r[k + 2]):
                    k += 1
                seg = r[i:k]
                out += bytes([0, len(seg)]) + bytes(seg) + (b"\0" if len(seg) % 2 else b"")
                i = k
        out += b"\0\0"
    out += b"\0\1"
    return bytes(out)


def rle4_encode(rows):
    out = bytearray()
    for r in rows:
        i = 0
        while i < len(r):
            a = r[i]
            b = r[i + 1] if i + 1 < len(r) else 0
            n = 2
            while i + n < len(r) and n < 254 and r[i + n] == (a if n % 2 == 0 else b):
                n += 1
            n = min(n, len(r) - i)
            out += bytes([n, (a << 4) | b])
            i += n
        out += b"\0\0"
    out += b"\0\1"
    return bytes(out)


# ---------------------------------------------------------------------------------------------

def make_png(files):
    w, h = 23, 17
    rgb = gradient(w, h, 3)
    photo(w, h).save(os.path.join(GEN, "png_rgb8.png")); files.append("png_rgb8.png")
    Image.fromarray(gradient(w, h, 4, 1), "RGBA").save(os.path.join(GEN, "png_rgba8.png")); files.append("png_rgba8.png")
    Image.fromarray(gradient(w, h, 1, 2)[:, :, 0], "L").save(os.path.join(GEN, "png_l8.png")); files.append("png_l8.png")
    Image.fromarray(gradient(w, h, 2, 3), "LA").save(os.path.join(GEN, "png_la8.png")); files.append("png_la8.png")
    Image.fromarray(gradient(w, h, 1, 4)[:, :, 0] > 128).save(os.path.join(GEN, "png_1bit.png")); files.append("png_1bit.png")
    q = photo(w, h).quantize(200)
    q.save(os.path.join(GEN, "png_p8.png")); files.append("png_p8.png")
    q16 = photo(w, h).quantize(16)
    q16.save(os.path.join(GEN, "png_p4.png"), bits=4); files.append("png_p4.png")
    q4 = photo(w, h).quantize(4)
    q4.save(os.path.join(GEN, "png_p2.png"), bits=2); files.append("png_p2.png")
    q2 = photo(w, h).quantize(2)
    q2.save(os.path.join(GEN, "png_p1.png"), bits=1); files.append("png_p1.png")
    # Pillow-written I;16 and I
    Image.fromarray(gradient(w, h, 1, 5)[:, :, 0].astype(np.uint16) * 257, "I;16").save(os.path.join(GEN, "png_i16_pillow.png")); files.append("png_i16_pillow.png")

    g = gradient(w, h, 4, 6)
    for depth in (1, 2, 4):
        arr = (g[:, :, :1] >> (8 - depth)).astype(np.uint16)
        name = "png_grey%d.png" % depth
        write_png(os.path.join(GEN, name), arr, depth, 0); files.append(name)
    g16 = (gradient(w, h, 4, 7).astype(np.uint16) * 257 + RNG.integers(0, 257, (h, w, 4))).astype(np.uint16)
    write_png(os.path.join(GEN, "png_grey16.png"), g16[:, :, :1], 16, 0); files.append("png_grey16.png")
    write_png(os.path.join(GEN, "png_ga16.png"), g16[:, :, :2], 16, 4); files.append("png_ga16.png")
    write_png(os.path.join(GEN, "png_rgb16.png"), g16[:, :, :3], 16, 2); files.append("png_rgb16.png")
    write_png(os.path.join(GEN, "png_rgba16.png"), g16, 16, 6); files.append("png_rgba16.png")
    # tRNS variants
    write_png(os.path.join(GEN, "png_grey8_trns.png"), g[:, :, :1], 8, 0, trns=struct.pack(">H", int(g[0, 0, 0]))); files.append("png_grey8_trns.png")
    write_png(os.path.join(GEN, "png_rgb8_trns.png"), rgb, 8, 2, trns=struct.pack(">HHH", *[int(v) for v in rgb[0, 0]])); files.append("png_rgb8_trns.png")
    pal = RNG.integers(0, 256, 3 * 40, dtype=np.uint8)
    idx = RNG.integers(0, 40, (h, w, 1))
    write_png(os.path.join(GEN, "png_p8_trns.png"), idx, 8, 3, plte=pal, trns=bytes(RNG.integers(0, 256, 30, dtype=np.uint8))); files.append("png_p8_trns.png")
    write_png(os.path.join(GEN, "png_p8_trns_simple.png"), idx, 8, 3, plte=pal, trns=b"\xff\xff\x00\xff"); files.append("png_p8_trns_simple.png")
    # indices beyond the palette: Pillow's default grey ramp
    idx_big = RNG.integers(0, 256, (h, w, 1))
    write_png(os.path.join(GEN, "png_p8_short_palette.png"), idx_big, 8, 3, plte=pal[:3 * 10]); files.append("png_p8_short_palette.png")
    # interlaced
    write_png(os.path.join(GEN, "png_rgb8_interlaced.png"), rgb, 8, 2, interlace=True); files.append("png_rgb8_interlaced.png")
    write_png(os.path.join(GEN, "png_p4_interlaced.png"), idx % 16, 4, 3, plte=pal[:48], interlace=True); files.append("png_p4_interlaced.png")
    write_png(os.path.join(GEN, "png_grey16_interlaced.png"), g16[:, :, :1], 16, 0, interlace=True); files.append("png_grey16_interlaced.png")
    write_png(os.path.join(GEN, "png_la8_interlaced.png"), g[:, :, :2], 8, 4, interlace=True); files.append("png_la8_interlaced.png")
    write_png(os.path.join(GEN, "png_grey2_interlaced_3x2.png"), (g[:2, :3, :1] >> 6), 2, 0, interlace=True); files.append("png_grey2_interlaced_3x2.png")
    write_png(os.path.join(GEN, "png_rgb8_interlaced_1x1.png"), rgb[:1, :1], 8, 2, interlace=True); files.append("png_rgb8_interlaced_1x1.png")
    write_png(os.path.join(GEN, "png_rgb8_split_idat.png"), rgb, 8, 2, idat_split=50); files.append("png_rgb8_split_idat.png")
    # orientation metadata
    write_png(os.path.join(GEN, "png_exif3.png"), rgb, 8, 2, before_idat=[(b"eXIf", exif_block(3))]); files.append("png_exif3.png")
    write_png(os.path.join(GEN, "png_exif6_after_idat.png"), rgb, 8, 2, after_idat=[(b"eXIf", exif_block(6, ">"))]); files.append("png_exif6_after_idat.png")
    xmp = b'<x:xmpmeta><rdf:Description tiff:Orientation="8"/></x:xmpmeta>'
    write_png(os.path.join(GEN, "png_xmp8.png"), rgb, 8, 2, before_idat=[(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + xmp)]); files.append("png_xmp8.png")
    xmp_z = zlib.compress(b"<x:xmpmeta><tiff:Orientation>5</tiff:Orientation></x:xmpmeta>")
    write_png(os.path.join(GEN, "png_xmp5_compressed.png"), rgb, 8, 2, after_idat=[(b"iTXt", b"XML:com.adobe.xmp\0\1\0\0\0" + xmp_z)]); files.append("png_xmp5_compressed.png")
    raw = exif_block(7).hex()
    prof = "\nexif\n%8d\n%s\n" % (len(raw) // 2, raw)
    write_png(os.path.join(GEN, "png_rawprofile7.png"), rgb, 8, 2, before_idat=[(b"zTXt", b"Raw profile type exif\0\0" + zlib.compress(prof.encode()))]); files.append("png_rawprofile7.png")
    # EXIF wins over XMP; an orientation outside 1..8 is ignored
    write_png(os.path.join(GEN, "png_exif2_xmp8.png"), rgb, 8, 2, before_idat=[(b"eXIf", exif_block(2)), (b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + xmp)]); files.append("png_exif2_xmp8.png")
    write_png(os.path.join(GEN, "png_exif9.png"), rgb, 8, 2, before_idat=[(b"eXIf", exif_block(9))]); files.append("png_exif9.png")


def make_jpeg(files):
    w, h = 37, 29
    p = photo(w, h)
    p.save(os.path.join(GEN, "jpeg_444.jpg"), quality=90, subsampling=0); files.append("jpeg_444.jpg")
    p.save(os.path.join(GEN, "jpeg_422.jpg"), quality=85, subsampling=1); files.append("jpeg_422.jpg")
    p.save(os.path.join(GEN, "jpeg_420.jpg"), quality=75, subsampling=2); files.append("jpeg_420.jpg")
    p.save(os.path.join(GEN, "jpeg_progressive.jpg"), quality=80, progressive=True); files.append("jpeg_progressive.jpg")
    p.save(os.path.join(GEN, "jpeg_optimized.jpg"), quality=95, optimize=True); files.append("jpeg_optimized.jpg")
    p.convert("L").save(os.path.join(GEN, "jpeg_grey.jpg"), quality=88); files.append("jpeg_grey.jpg")
    p.convert("L").save(os.path.join(GEN, "jpeg_grey_progressive.jpg"), quality=70, progressive=True); files.append("jpeg_grey_progressive.jpg")
    cmyk = Image.fromarray(gradient(w, h, 4, 8), "CMYK")
    cmyk.save(os.path.join(GEN, "jpeg_cmyk_adobe.jpg"), quality=90); files.append("jpeg_cmyk_adobe.jpg")
    data = open(os.path.join(GEN, "jpeg_cmyk_adobe.jpg"), "rb").read()
    i = data.find(b"\xff\xee")
    assert i > 0
    n = struct.unpack(">H", data[i + 2:i + 4])[0]
    with open(os.path.join(GEN, "jpeg_cmyk_no_adobe.jpg"), "wb") as f:
        f.write(data[:i] + data[i + 2 + n:])
    files.append("jpeg_cmyk_no_adobe.jpg")
    # odd sizes exercise the edge MCUs
    photo(1, 1).save(os.path.join(GEN, "jpeg_1x1.jpg")); files.append("jpeg_1x1.jpg")
    photo(17, 3).save(os.path.join(GEN, "jpeg_17x3_420.jpg"), subsampling=2); files.append("jpeg_17x3_420.jpg")
    # EXIF orientation 1..8 (Pillow's writer: little-endian SHORT), plus big-endian and LONG forms
    q = photo(13, 7)
    for o in range(1, 9):
        ex = Image.Exif()
        ex[0x0112] = o
        name = "jpeg_exif%d.jpg" % o
        q.save(os.path.join(GEN, name), exif=ex.tobytes(), quality=92); files.append(name)
    q.save(os.path.join(GEN, "jpeg_exif6_bigendian.jpg"), exif=b"Exif\0\0" + exif_block(6, ">"), quality=92); files.append("jpeg_exif6_bigendian.jpg")
    q.save(os.path.join(GEN, "jpeg_exif8_long.jpg"), exif=b"Exif\0\0" + exif_block(8, "<", typ=4), quality=92); files.append("jpeg_exif8_long.jpg")
    q.save(os.path.join(GEN, "jpeg_exif0.jpg"), exif=b"Exif\0\0" + exif_block(0), quality=92); files.append("jpeg_exif0.jpg")
    # restart markers, written by re-encoding through the APP segments? Pillow cannot: skip.


def make_gif(files):
    w, h = 21, 13
    q = photo(w, h).quantize(60)
    q.save(os.path.join(GEN, "gif_p.gif")); files.append("gif_p.gif")
    q.save(os.path.join(GEN, "gif_p_transparent.gif"), transparency=5); files.append("gif_p_transparent.gif")
    photo(w, h).convert("L").save(os.path.join(GEN, "gif_l.gif")); files.append("gif_l.gif")
    big = photo(40, 40).quantize(200)
    big.save(os.path.join(GEN, "gif_p_interlaced.gif"), interlace=True); files.append("gif_p_interlaced.gif")
    frames = [photo(w, h).quantize(32), photo(w, h).transpose(Image.FLIP_LEFT_RIGHT).quantize(32)]
    frames[0].save(os.path.join(GEN, "gif_animated.gif"), save_all=True, append_images=frames[1:], duration=50); files.append("gif_animated.gif")
    idx = RNG.integers(0, 16, (9, 11)).astype(np.uint8)
    gpal = list(RNG.integers(0, 256, 48))
    write_gif(os.path.join(GEN, "gif_offset_frame.gif"), (20, 15), [dict(x=4, y=3, idx=idx)], global_pal=gpal, gbits=4); files.append("gif_offset_frame.gif")
    write_gif(os.path.join(GEN, "gif_offset_frame_transparent.gif"), (20, 15), [dict(x=4, y=3, idx=idx, transparency=7)], global_pal=gpal, gbits=4); files.append("gif_offset_frame_transparent.gif")
    write_gif(os.path.join(GEN, "gif_frame_beyond_screen.gif"), (8, 6), [dict(x=4, y=3, idx=idx)], global_pal=gpal, gbits=4); files.append("gif_frame_beyond_screen.gif")
    lpal = list(RNG.integers(0, 256, 48))
    write_gif(os.path.join(GEN, "gif_local_palette.gif"), (11, 9), [dict(x=0, y=0, idx=idx, pal=lpal, lbits=4)], global_pal=gpal, gbits=4); files.append("gif_local_palette.gif")
    ramp = [v for i in range(16) for v in (i, i, i)]
    write_gif(os.path.join(GEN, "gif_identity_palette.gif"), (11, 9), [dict(x=0, y=0, idx=idx)], global_pal=ramp, gbits=4); files.append("gif_identity_palette.gif")
    write_gif(os.path.join(GEN, "gif_no_palette.gif"), (11, 9), [dict(x=0, y=0, idx=idx, lbits=4)]); files.append("gif_no_palette.gif")
    write_gif(os.path.join(GEN, "gif_interlaced_small.gif"), (11, 9), [dict(x=0, y=0, idx=idx, interlace=True)], global_pal=gpal, gbits=4); files.append("gif_interlaced_small.gif")
    write_gif(os.path.join(GEN, "gif_junk_between_blocks.gif"), (11, 9), [dict(x=0, y=0, idx=idx)], global_pal=gpal, gbits=4, junk_before_frame=b"\x01\x02xyz"); files.append("gif_junk_between_blocks.gif")


def make_webp(files):
    w, h = 31, 19
    p = photo(w, h)
    p.save(os.path.join(GEN, "webp_lossy.webp"), quality=80); files.append("webp_lossy.webp")
    p.save(os.path.join(GEN, "webp_lossless.webp"), lossless=True); files.append("webp_lossless.webp")
    rgba = p.convert("RGBA")
    rgba.putalpha(Image.fromarray(gradient(w, h, 1, 9)[:, :, 0], "L"))
    rgba.save(os.path.join(GEN, "webp_lossy_alpha.webp"), quality=80); files.append("webp_lossy_alpha.webp")
    rgba.save(os.path.join(GEN, "webp_lossless_alpha.webp"), lossless=True); files.append("webp_lossless_alpha.webp")
    ex = Image.Exif()
    ex[0x0112] = 6
    p.save(os.path.join(GEN, "webp_exif6.webp"), quality=80, exif=ex.tobytes()); files.append("webp_exif6.webp")
    frames = [p, p.transpose(Image.FLIP_TOP_BOTTOM)]
    frames[0].save(os.path.join(GEN, "webp_animated.webp"), save_all=True, append_images=frames[1:], duration=40, quality=70); files.append("webp_animated.webp")


def make_bmp(files):
    w, h = 19, 11
    p = photo(w, h)
    p.save(os.path.join(GEN, "bmp_rgb24.bmp")); files.append("bmp_rgb24.bmp")
    p.convert("L").save(os.path.join(GEN, "bmp_l8.bmp")); files.append("bmp_l8.bmp")
    p.quantize(100).save(os.path.join(GEN, "bmp_p8.bmp")); files.append("bmp_p8.bmp")
    p.convert("1").save(os.path.join(GEN, "bmp_1bit.bmp")); files.append("bmp_1bit.bmp")
    p.convert("RGBA").save(os.path.join(GEN, "bmp_rgba32_pillow.bmp")); files.append("bmp_rgba32_pillow.bmp")
    idx = RNG.integers(0, 16, (h, w)).astype(np.uint8)
    pal16 = [tuple(int(v) for v in RNG.integers(0, 256, 3)) for _ in range(16)]
    rows4 = [pack_row(idx[y], 4) for y in range(h)][::-1]
    write_bmp(os.path.join(GEN, "bmp_p4.bmp"), w, h, 4, rows4, palette=pal16); files.append("bmp_p4.bmp")
    rows4_td = [pack_row(idx[y], 4) for y in range(h)]
    write_bmp(os.path.join(GEN, "bmp_p4_topdown.bmp"), w, h, 4, rows4_td, palette=pal16, top_down=True); files.append("bmp_p4_topdown.bmp")
    write_bmp(os.path.join(GEN, "bmp_p4_os2.bmp"), w, h, 4, rows4, palette=pal16, header=12); files.append("bmp_p4_os2.bmp")
    pal2 = [(10, 20, 30), (200, 100, 50)]
    rows1 = [pack_row((idx[y] > 7).astype(int), 1) for y in range(h)][::-1]
    write_bmp(os.path.join(GEN, "bmp_p1.bmp"), w, h, 1, rows1, palette=pal2); files.append("bmp_p1.bmp")
    rgb = gradient(w, h, 3, 10).astype(np.uint32)
    v555 = ((rgb[:, :, 0] >> 3) << 10) | ((rgb[:, :, 1] >> 3) << 5) | (rgb[:, :, 2] >> 3)
    rows = [v555[y].astype("<u2").tobytes() for y in range(h)][::-1]
    write_bmp(os.path.join(GEN, "bmp_rgb555.bmp"), w, h, 16, rows); files.append("bmp_rgb555.bmp")
    v565 = ((rgb[:, :, 0] >> 3) << 11) | ((rgb[:, :, 1] >> 2) << 5) | (rgb[:, :, 2] >> 3)
    rows = [v565[y].astype("<u2").tobytes() for y in range(h)][::-1]
    write_bmp(os.path.join(GEN, "bmp_rgb565.bmp"), w, h, 16, rows, compression=3, masks=(0xF800, 0x7E0, 0x1F, 0)); files.append("bmp_rgb565.bmp")
    rgba = gradient(w, h, 4, 11)
    bgra = rgba[:, :, [2, 1, 0, 3]]
    rows = [bgra[y].tobytes() for y in range(h)][::-1]
    write_bmp(os.path.join(GEN, "bmp_bgra32_v5.bmp"), w, h, 32, rows, header=124, compression=3, masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000)); files.append("bmp_bgra32_v5.bmp")
    write_bmp(os.path.join(GEN, "bmp_bgrx32_v4.bmp"), w, h, 32, rows, header=108, compression=3, masks=(0xFF0000, 0xFF00, 0xFF, 0)); files.append("bmp_bgrx32_v4.bmp")
    write_bmp(os.path.join(GEN, "bmp_bgrx32_raw.bmp"), w, h, 32, rows); files.append("bmp_bgrx32_raw.bmp")
    idx8 = RNG.integers(0, 5, (h, w)).astype(np.uint8)
    idx8[:, 3:12] = 2
    pal8 = [tuple(int(v) for v in RNG.integers(0, 256, 3)) for _ in range(256)]
    rle = rle8_encode([list(idx8[y]) for y in range(h)][::-1])
    write_bmp(os.path.join(GEN, "bmp_rle8.bmp"), w, h, 8, None, palette=pal8, compression=1, rle_data=rle); files.append("bmp_rle8.bmp")
    rle = rle4_encode([list(idx[y]) for y in range(h)][::-1])
    write_bmp(os.path.join(GEN, "bmp_rle4.bmp"), w, h, 4, None, palette=pal16, compression=2, rle_data=rle); files.append("bmp_rle4.bmp")
    # an RLE8 stream with a delta escape (Pillow reads its offsets from the two bytes after it)
    rle = bytes([3, 1, 0, 2, 2, 1, 4, 3, 0, 0]) + bytes([8, 5]) * 4 + bytes([0, 1])
    write_bmp(os.path.join(GEN, "bmp_rle8_delta.bmp"), 8, 4, 8, None, palette=pal8[:16], compression=1, rle_data=rle, colors_used=16); files.append("bmp_rle8_delta.bmp")
    grey_pal = [(i, i, i) for i in range(256)]
    rows = [idx8[y].tobytes() for y in range(h)][::-1]
    write_bmp(os.path.join(GEN, "bmp_grey_palette.bmp"), w, h, 8, rows, palette=grey_pal); files.append("bmp_grey_palette.bmp")


def write_tiff(path, w, h, spp, bps, photometric, data_rows=None, endian="<", extra=None, sample_format=1,
               planes=None, tile=None, tile_data=None, colormap=None, rows_per_strip=None):
    """A plain uncompressed TIFF: strips of whole rows (data_rows, bytes per row), separate planes
    (planes: list of per-plane row lists) or tiles (tile=(tw, th), tile_data: list of tile bytes)."""
    entries = []

    def add(tag, typ, values):
        entries.append((tag, typ, values))

    SHORT, LONG = 3, 4
    add(256, LONG, [w])
    add(257, LONG, [h])
    add(258, SHORT, [bps] * spp)
    add(259, SHORT, [1])
    add(262, SHORT, [photometric])
    add(277, SHORT, [spp])
    add(284, SHORT, [2 if planes else 1])
    if extra:
        add(338, SHORT, extra)
    if sample_format != 1:
        add(339, SHORT, [sample_format] * spp)
    if colormap:
        add(320, SHORT, colormap)
    blobs = []
    if tile:
        add(322, LONG, [tile[0]])
        add(323, LONG, [tile[1]])
        blobs = tile_data
        off_tag, cnt_tag = 324, 325
    elif planes:
        rps = rows_per_strip or h
        for rows in planes:
            for y in range(0, h, rps):
                blobs.append(b"".join(rows[y:y + rps]))
        add(278, LONG, [rps])
        off_tag, cnt_tag = 273, 279
    else:
        rps = rows_per_strip or h
        for y in range(0, h, rps):
            blobs.append(b"".join(data_rows[y:y + rps]))
        add(278, LONG, [rps])
        off_tag, cnt_tag = 273, 279
    # layout: header, pixel data, out-of-line values, IFD
    out = bytearray(b"II*\0" if endian == "<" else b"MM\0*") + b"\0\0\0\0"
    offsets = []
    for b in blobs:
        offsets.append(len(out))
        out += b
        if len(out) % 2:
            out += b"\0"
    add(off_tag, LONG, offsets)
    add(cnt_tag, LONG, [len(b) for b in blobs])
    entries.sort()
    packed = []
    for tag, typ, values in entries:
        fmt = "H" if typ == SHORT else "I"
        data = struct.pack(endian + fmt * len(values), *values)
        if len(data) <= 4:
            packed.append((tag, typ, len(values), data.ljust(4, b"\0"), None))
        else:
            packed.append((tag, typ, len(values), None, data))
    for i, (tag, typ, n, inline, data) in enumerate(packed):
        if data is not None:
            off = len(out)
            out += data
            if len(out) % 2:
                out += b"\0"
            packed[i] = (tag, typ, n, struct.pack(endian + "I", off), None)
    ifd = len(out)
    out += struct.pack(endian + "H", len(packed))
    for tag, typ, n, inline, _ in packed:
        out += struct.pack(endian + "HHI", tag, typ, n) + inline
    out += struct.pack(endian + "I", 0)
    out[4:8] = struct.pack(endian + "I", ifd)
    with open(path, "wb") as f:
        f.write(bytes(out))


def make_tiff(files):
    w, h = 27, 15
    p = photo(w, h)
    for comp in ("raw", "tiff_lzw", "tiff_adobe_deflate", "packbits", "jpeg"):
        name = "tiff_rgb_%s.tif" % comp
        p.save(os.path.join(GEN, name), compression=comp); files.append(name)
    p.convert("L").save(os.path.join(GEN, "tiff_l_lzw.tif"), compression="tiff_lzw"); files.append("tiff_l_lzw.tif")
    p.convert("L").save(os.path.join(GEN, "tiff_l_raw.tif")); files.append("tiff_l_raw.tif")
    p.convert("1").save(os.path.join(GEN, "tiff_1bit_raw.tif")); files.append("tiff_1bit_raw.tif")
    p.convert("1").save(os.path.join(GEN, "tiff_1bit_g4.tif"), compression="group4"); files.append("tiff_1bit_g4.tif")
    p.convert("LA").save(os.path.join(GEN, "tiff_la.tif"), compression="tiff_lzw"); files.append("tiff_la.tif")
    rgba = p.convert("RGBA")
    rgba.putalpha(Image.fromarray(gradient(w, h, 1, 12)[:, :, 0], "L"))
    rgba.save(os.path.join(GEN, "tiff_rgba.tif"), compression="tiff_adobe_deflate"); files.append("tiff_rgba.tif")
    rgba.save(os.path.join(GEN, "tiff_rgba_raw.tif")); files.append("tiff_rgba_raw.tif")
    p.quantize(50).save(os.path.join(GEN, "tiff_p8.tif"), compression="tiff_lzw"); files.append("tiff_p8.tif")
    p.quantize(50).save(os.path.join(GEN, "tiff_p8_raw.tif")); files.append("tiff_p8_raw.tif")
    Image.fromarray(gradient(w, h, 4, 13), "CMYK").save(os.path.join(GEN, "tiff_cmyk.tif"), compression="tiff_lzw"); files.append("tiff_cmyk.tif")
    Image.fromarray(gradient(w, h, 4, 13), "CMYK").save(os.path.join(GEN, "tiff_cmyk_raw.tif")); files.append("tiff_cmyk_raw.tif")
    i16 = (gradient(w, h, 1, 14)[:, :, 0].astype(np.uint16) * 263) % 65536
    Image.fromarray(i16.astype(np.uint16), "I;16").save(os.path.join(GEN, "tiff_i16.tif")); files.append("tiff_i16.tif")
    Image.fromarray(i16.astype(np.uint16), "I;16").save(os.path.join(GEN, "tiff_i16_lzw.tif"), compression="tiff_lzw"); files.append("tiff_i16_lzw.tif")
    i32 = (gradient(w, h, 1, 15)[:, :, 0].astype(np.int32) - 100) * 7
    Image.fromarray(i32, "I").save(os.path.join(GEN, "tiff_i32.tif")); files.append("tiff_i32.tif")
    f32 = (gradient(w, h, 1, 16)[:, :, 0].astype(np.float32) - 30.25) * 1.37
    Image.fromarray(f32, "F").save(os.path.join(GEN, "tiff_f32.tif")); files.append("tiff_f32.tif")
    Image.fromarray(f32, "F").save(os.path.join(GEN, "tiff_f32_deflate.tif"), compression="tiff_adobe_deflate"); files.append("tiff_f32_deflate.tif")
    ex = Image.Exif()
    ex[0x0112] = 3
    p.save(os.path.join(GEN, "tiff_orientation3.tif"), exif=ex); files.append("tiff_orientation3.tif")
    ex[0x0112] = 6
    p.save(os.path.join(GEN, "tiff_orientation6.tif"), exif=ex, compression="tiff_lzw"); files.append("tiff_orientation6.tif")
    # layouts Pillow does not write
    w, h = 13, 10
    rgb = gradient(w, h, 3, 17)
    write_tiff(os.path.join(GEN, "tiff_rgb_bigendian.tif"), w, h, 3, 8, 2, [rgb[y].tobytes() for y in range(h)], endian=">"); files.append("tiff_rgb_bigendian.tif")
    write_tiff(os.path.join(GEN, "tiff_rgb_strips.tif"), w, h, 3, 8, 2, [rgb[y].tobytes() for y in range(h)], rows_per_strip=3); files.append("tiff_rgb_strips.tif")
    write_tiff(os.path.join(GEN, "tiff_rgb_planar.tif"), w, h, 3, 8, 2, planes=[[rgb[y, :, c].tobytes() for y in range(h)] for c in range(3)], rows_per_strip=4); files.append("tiff_rgb_planar.tif")
    tw, th = 16, 16
    tiles = []
    for ty in range(0, h, th):
        for tx in range(0, w, tw):
            t = np.zeros((th, tw, 3), np.uint8)
            part = rgb[ty:ty + th, tx:tx + tw]
            t[:part.shape[0], :part.shape[1]] = part
            tiles.append(t.tobytes())
    write_tiff(os.path.join(GEN, "tiff_rgb_tiled.tif"), w, h, 3, 8, 2, tile=(tw, th), tile_data=tiles); files.append("tiff_rgb_tiled.tif")
    g = gradient(w, h, 1, 18)[:, :, 0]
    write_tiff(os.path.join(GEN, "tiff_l_minwhite.tif"), w, h, 1, 8, 0, [g[y].tobytes() for y in range(h)]); files.append("tiff_l_minwhite.tif")
    write_tiff(os.path.join(GEN, "tiff_l4.tif"), w, h, 1, 4, 1, [pack_row(g[y] >> 4, 4) for y in range(h)]); files.append("tiff_l4.tif")
    write_tiff(os.path.join(GEN, "tiff_l2_minwhite.tif"), w, h, 1, 2, 0, [pack_row(g[y] >> 6, 2) for y in range(h)]); files.append("tiff_l2_minwhite.tif")
    cmap = [int(v) for v in RNG.integers(0, 65536, 3 * 4)]
    write_tiff(os.path.join(GEN, "tiff_p2.tif"), w, h, 1, 2, 3, [pack_row(g[y] >> 6, 2) for y in range(h)], colormap=cmap); files.append("tiff_p2.tif")
    rgba = gradient(w, h, 4, 19)
    a = rgba[:, :, 3:4].astype(np.uint16)
    prem = rgba.copy()
    prem[:, :, :3] = (rgba[:, :, :3].astype(np.uint16) * a // 255).astype(np.uint8)
    prem[0, 0] = [0, 0, 0, 0]
    prem[0, 1] = [10, 20, 30, 255]
    write_tiff(os.path.join(GEN, "tiff_rgba_associated.tif"), w, h, 4, 8, 2, [prem[y].tobytes() for y in range(h)], extra=[1]); files.append("tiff_rgba_associated.tif")
    write_tiff(os.path.join(GEN, "tiff_rgbx.tif"), w, h, 4, 8, 2, [rgba[y].tobytes() for y in range(h)], extra=[0]); files.append("tiff_rgbx.tif")
    rgb16 = (gradient(w, h, 4, 20).astype(np.uint16) * 251)
    write_tiff(os.path.join(GEN, "tiff_rgb16.tif"), w, h, 3, 16, 2, [rgb16[y, :, :3].astype("<u2").tobytes() for y in range(h)]); files.append("tiff_rgb16.tif")
    write_tiff(os.path.join(GEN, "tiff_rgba16.tif"), w, h, 4, 16, 2, [rgb16[y].astype("<u2").tobytes() for y in range(h)], extra=[2]); files.append("tiff_rgba16.tif")
    g16 = gradient(w, h, 1, 21)[:, :, 0].astype(np.uint16) * 257
    write_tiff(os.path.join(GEN, "tiff_i16_bigendian.tif"), w, h, 1, 16, 1, [g16[y].astype(">u2").tobytes() for y in range(h)], endian=">"); files.append("tiff_i16_bigendian.tif")
    s16 = (g16.astype(np.int32) - 30000).astype(np.int16)
    write_tiff(os.path.join(GEN, "tiff_i16_signed.tif"), w, h, 1, 16, 1, [s16[y].astype("<i2").tobytes() for y in range(h)], sample_format=2); files.append("tiff_i16_signed.tif")


def make_bad(bad, truncations):
    """Malformed files; reference.json records whether Pillow refuses each one. Truncated copies
    of valid files are not stored: the test cuts them in memory at the recorded lengths."""
    def put(name, data):
        with open(os.path.join(BAD, name), "wb") as f:
            f.write(data)
        bad.append(name)

    paths = {
        "jpeg": os.path.join(ROOT, "images", "motorcycle_portrait.jpg"),
        "jpegcmyk": os.path.join(ROOT, "images", "cmyk.jpg"),
        "jpegprog": os.path.join(GEN, "jpeg_progressive.jpg"),
        "png": os.path.join(GEN, "png_rgb8.png"),
        "pngi": os.path.join(GEN, "png_rgb8_interlaced.png"),
        "pngp": os.path.join(ROOT, "images", "palette.png"),
        "gif": os.path.join(GEN, "gif_p.gif"),
        "gifi": os.path.join(GEN, "gif_p_interlaced.gif"),
        "webp": os.path.join(GEN, "webp_lossy.webp"),
        "webpll": os.path.join(GEN, "webp_lossless_alpha.webp"),
        "bmp": os.path.join(GEN, "bmp_rgb24.bmp"),
        "bmprle": os.path.join(GEN, "bmp_rle8.bmp"),
        "tiff": os.path.join(GEN, "tiff_rgb_tiff_lzw.tif"),
        "tiffraw": os.path.join(GEN, "tiff_rgb_raw.tif"),
    }
    sources = {k: open(v, "rb").read() for k, v in paths.items()}
    for key, data in sources.items():
        n = len(data)
        rel = os.path.relpath(paths[key], ROOT)
        cuts = sorted(set([1, 2, 3, 4, 8, 12, 16, 20, 24, 30, 40, 64, 100, 200, 500, n // 4, n // 3, n // 2,
                           (2 * n) // 3, (3 * n) // 4, n - 100, n - 40, n - 12, n - 10, n - 4, n - 2, n - 1]))
        for c in cuts:
            if 0 < c < n:
                t = pillow_outcome(io.BytesIO(data[:c]))
                t.update({"source": rel, "length": c})
                truncations.append(t)
    put("empty", b"")
    put("one_byte", b"\xff")
    put("text_file.txt", b"hello, this is not an image\n")
    # RLE8 with an early end-of-bitmap: Pillow wants every pixel
    pal8 = [(i, 255 - i, (7 * i) % 256) for i in range(16)]
    rle = bytes([3, 1, 0, 2, 0, 0, 0, 2, 2, 1, 4, 3]) + bytes([0, 0]) * 4 + bytes([0, 1])
    write_bmp(os.path.join(BAD, "bmp_rle8_early_end.bmp"), 8, 4, 8, None, palette=pal8, compression=1, rle_data=rle, colors_used=16)
    bad.append("bmp_rle8_early_end.bmp")
    put("png_wrong_magic.png", b"\x89PNX" + sources["png"][4:])
    put("jpeg_wrong_magic.jpg", b"\xff\xd8\x00" + sources["jpeg"][3:])
    # huge and zero dimensions in otherwise valid headers
    png = bytearray(sources["png"])
    for name, w, h in (("png_huge", 100000, 100000), ("png_zero_width", 0, 17), ("png_wide", 2 ** 31 - 1, 1)):
        d = bytearray(png)
        ihdr = struct.pack(">II", w, h) + d[24:29]
        d[16:29] = ihdr
        d[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)) & 0xFFFFFFFF)
        put(name + ".png", bytes(d))
    jpg = bytearray(sources["jpeg"])
    i = jpg.find(b"\xff\xc0")
    for name, w, h in (("jpeg_huge", 60000, 60000), ("jpeg_zero_height", 300, 0)):
        d = bytearray(jpg)
        d[i + 5:i + 9] = struct.pack(">HH", h, w)
        put(name + ".jpg", bytes(d))
    gif = bytearray(sources["gif"])
    d = bytearray(gif)
    d[6:10] = struct.pack("<HH", 65535, 65535)
    put("gif_huge_screen.gif", bytes(d))
    bmp = bytearray(sources["bmp"])
    d = bytearray(bmp)
    d[18:26] = struct.pack("<ii", 200000, 200000)
    put("bmp_huge.bmp", bytes(d))
    d = bytearray(bmp)
    d[18:22] = struct.pack("<i", 0)
    put("bmp_zero_width.bmp", bytes(d))
    # valid header followed by garbage
    rnd = bytes(RNG.integers(0, 256, 4000, dtype=np.uint8))
    put("jpeg_header_garbage.jpg", bytes(jpg[: jpg.find(b"\xff\xda") + 14]) + rnd)
    j = sources["png"].find(b"IDAT")
    put("png_header_garbage.png", sources["png"][: j + 4] + rnd)
    put("gif_header_garbage.gif", sources["gif"][:13 + 3 * 64 + 10] + rnd)
    put("bmp_header_garbage.bmp", sources["bmp"][:54] + rnd[:100])
    put("webp_header_garbage.webp", sources["webp"][:30] + rnd)
    put("tiff_header_garbage.tif", sources["tiff"][:8] + rnd)
    # corrupt entropy-coded data inside an otherwise complete file
    d = bytearray(sources["png"])
    d[j + 20:j + 40] = rnd[:20]
    put("png_corrupt_idat.png", bytes(d))
    d = bytearray(sources["png"])
    d[40] ^= 0x55  # inside IHDR or a pre-IDAT chunk: bad CRC
    put("png_bad_crc.png", bytes(d))


def make_convert_fixture():
    """Synthetic images in every mode with Pillow's convert("RGB") output (U8 [h, w, 3])."""
    w, h = 29, 7
    tensors = {}

    def add(name, im, raw_bytes, palette=None):
        out = np.frombuffer(im.convert("RGB").tobytes(), np.uint8).reshape(h, w, 3)
        tensors[name + ".in"] = np.frombuffer(raw_bytes, np.uint8).copy()
        tensors[name + ".rgb"] = out.copy()
        if palette is not None:
            tensors[name + ".palette"] = np.asarray(palette, np.uint8).reshape(-1, 3)

    bits = (RNG.integers(0, 2, (h, w)) * 255).astype(np.uint8)
    add("1", Image.fromarray(bits, "L").convert("1"), bits.tobytes())
    l8 = RNG.integers(0, 256, (h, w), dtype=np.uint8)
    add("L", Image.fromarray(l8, "L"), l8.tobytes())
    la = RNG.integers(0, 256, (h, w, 2), dtype=np.uint8)
    add("LA", Image.fromarray(la, "LA"), la.tobytes())
    pal = RNG.integers(0, 256, 3 * 70, dtype=np.uint8)
    idx = RNG.integers(0, 256, (h, w), dtype=np.uint8)  # indices >= 70 hit Pillow's default ramp
    im = Image.frombytes("P", (w, h), idx.tobytes())
    im.putpalette(pal.tobytes())
    add("P", im, idx.tobytes(), pal)
    pa = np.stack([idx, RNG.integers(0, 256, (h, w), dtype=np.uint8)], -1)
    im = Image.frombytes("PA", (w, h), pa.tobytes())
    im.putpalette(pal.tobytes())
    add("PA", im, pa.tobytes(), pal)
    rgba = RNG.integers(0, 256, (h, w, 4), dtype=np.uint8)
    add("RGBA", Image.fromarray(rgba, "RGBA"), rgba.tobytes())
    cmyk = RNG.integers(0, 256, (h, w, 4), dtype=np.uint8)
    cmyk[0, :16] = [[0, 0, 0, 0], [255, 255, 255, 255], [255, 0, 0, 0], [0, 0, 0, 255], [128, 128, 128, 128],
                    [1, 2, 3, 4], [254, 253, 252, 251], [127, 128, 129, 1], [0, 255, 0, 1], [3, 3, 3, 254],
                    [200, 100, 50, 25], [255, 255, 255, 0], [0, 0, 0, 128], [64, 64, 64, 64], [255, 1, 255, 1], [9, 99, 199, 99]]
    add("CMYK", Image.fromarray(cmyk, "CMYK"), cmyk.tobytes())
    rgb = RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)
    add("RGB", Image.fromarray(rgb, "RGB"), rgb.tobytes())
    i16 = RNG.integers(0, 65536, (h, w)).astype("<u2")
    i16[0, :6] = [0, 1, 254, 255, 256, 65535]
    add("I;16", Image.frombytes("I;16", (w, h), i16.tobytes()), i16.tobytes())
    i32 = RNG.integers(-70000, 70000, (h, w)).astype("<i4")
    i32[0, :8] = [-2147483648, -1, 0, 1, 254, 255, 256, 2147483647]
    add("I", Image.frombytes("I", (w, h), i32.tobytes()), i32.tobytes())
    f32 = (RNG.standard_normal((h, w)) * 150 + 100).astype("<f4")
    f32[0, :10] = [-1e30, -0.5, -0.0, 0.0, 0.49, 0.999, 1.0, 254.999, 255.0, 1e30]
    add("F", Image.frombytes("F", (w, h), f32.tobytes()), f32.tobytes())
    return tensors


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        assert a.dtype == np.uint8
        b = a.tobytes()
        header[name] = {"dtype": "U8", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    warnings.simplefilter("ignore")
    os.makedirs(GEN, exist_ok=True)
    os.makedirs(BAD, exist_ok=True)
    for d in (GEN, BAD):
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))
    files = []
    make_png(files)
    make_jpeg(files)
    make_gif(files)
    make_webp(files)
    make_bmp(files)
    make_tiff(files)
    bad = []
    truncations = []
    make_bad(bad, truncations)

    ref = {"generator": "make_images.py", "pillow": PIL.__version__, "images": {}, "bad": {},
           "truncated": truncations}
    for f in files:
        ref["images"]["images_extra/gen/" + f] = describe(os.path.join(GEN, f))
    fixtures = sorted("images/" + f for f in os.listdir(os.path.join(ROOT, "images")))
    fixtures += sorted("hf/images/" + f for f in os.listdir(os.path.join(ROOT, "hf", "images")))
    for f in fixtures:
        ref["images"][f] = describe(os.path.join(ROOT, f))
    for f in bad:
        ref["bad"]["images_extra/bad/" + f] = pillow_outcome(os.path.join(BAD, f))
    with open(os.path.join(HERE, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1, sort_keys=True)
        f.write("\n")
    write_safetensors(os.path.join(HERE, "convert.safetensors"), make_convert_fixture(),
                      {"generator": "make_images.py", "pillow": PIL.__version__,
                       "content": "<mode>.in raw samples, <mode>.palette RGB triples, <mode>.rgb Pillow convert('RGB') [h,w,3]; w=29 h=7"})
    print("%d images, %d malformed files" % (len(files), len(bad)), file=sys.stderr)


if __name__ == "__main__":
    main()
