#!/usr/bin/python3
"""Images/s of clipkit against Pillow for CLIP's image loading: decode + resize (shorter side to S,
bicubic) + centre crop + convert("RGB"), the part of OpenAI's preprocess (torchvision Resize,
CenterCrop) that produces the 8-bit crop, on the same photos, in the same run.

Each round runs both engines on every file `--loops` times, clipkit first in even rounds and
Pillow first in odd ones (the host's speed drifts); the table shows medians over the rounds and
the ratio. clipkit runs as `image_bench compare` (bench/image_bench.cpp), which times its own loop
and so leaves out process start-up; Pillow runs in this process, timed the same way. With threads,
clipkit uses its thread pool and Pillow a ThreadPoolExecutor (Pillow releases the GIL while it
decodes and resamples).

Before timing, the script checks that clipkit's 8-bit crops are identical to Pillow's on every
photo (through `clipkit preprocess --dump-uint8`).

The photos: the fixture photos as they are, plus larger JPEGs made from them (quality 90, 4:2:0,
Pillow's LANCZOS), written once to bench/results/tmp/photos/ (git-ignored).

Needs Debian's /usr/bin/python3 with python3-pil (Pillow 9.4) and numpy:

    cmake --build build/release --target image_bench clipkit
    /usr/bin/python3 bench/preprocess_vs_pillow.py --build build/release --threads 1,2 --rounds 7
"""
import argparse
import concurrent.futures
import json
import os
import platform
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
import PIL
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")

# (source, long side or None for the file as it is, output name)
PHOTOS = [
    ("images/rocket.jpg", None, "rocket_640x427.jpg"),
    ("images/motorcycle_portrait.jpg", None, "motorcycle_300x480.jpg"),
    ("images/chelsea.png", None, "chelsea_451x300.png"),
    ("hf/images/coffee.png", None, "coffee_600x400.png"),
    ("hf/images/astronaut.png", None, "astronaut_512x512.png"),
    ("images/rocket.jpg", 1024, "rocket_1024.jpg"),
    ("images/chelsea.png", 1200, "chelsea_1200.jpg"),
    ("hf/images/coffee.png", 1600, "coffee_1600.jpg"),
    ("images/motorcycle_portrait.jpg", 1280, "motorcycle_1280.jpg"),
    ("hf/images/astronaut.png", 2048, "astronaut_2048.jpg"),
    ("images/rocket.jpg", 3000, "rocket_3000.jpg"),
]


def make_photos(folder):
    os.makedirs(folder, exist_ok=True)
    paths = []
    for src, long_side, name in PHOTOS:
        out = os.path.join(folder, name)
        if not os.path.exists(out):
            im = Image.open(os.path.join(DATA, src))
            if long_side is None:
                with open(os.path.join(DATA, src), "rb") as f, open(out, "wb") as g:
                    g.write(f.read())
            else:
                im = im.convert("RGB")
                w, h = im.size
                s = long_side / max(w, h)
                im = im.resize((round(w * s), round(h * s)), Image.Resampling.LANCZOS)
                im.save(out, quality=90, subsampling="4:2:0")
        paths.append(out)
    return paths


def pillow_crop(path, size):
    """OpenAI's Resize(size) + CenterCrop(size) + convert("RGB") with torchvision 0.14's rules."""
    im = Image.open(path)
    w, h = im.size
    if w <= h:
        nw, nh = size, int(size * h / w)
    else:
        nw, nh = int(size * w / h), size
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.Resampling.BICUBIC)
    top = int(round((nh - size) / 2.0))
    left = int(round((nw - size) / 2.0))
    im = im.crop((left, top, left + size, top + size))
    return im.convert("RGB")


def time_pillow(paths, size, threads, loops):
    work = paths * loops
    t0 = time.perf_counter()
    if threads == 1:
        for p in work:
            pillow_crop(p, size)
    else:
        with concurrent.futures.ThreadPoolExecutor(threads) as ex:
            for _ in ex.map(lambda p: pillow_crop(p, size), work):
                pass
    return time.perf_counter() - t0


def time_clipkit(bench, paths, size, threads, loops):
    out = subprocess.run([bench, "compare", "--size", str(size), "--threads", str(threads),
                          "--loops", str(loops)] + paths, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["seconds"]


def read_safetensors(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        dt = {"U8": np.uint8, "F32": np.float32}[v["dtype"]]
        s, e = v["data_offsets"]
        out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dt).reshape(v["shape"])
    return out


def check_identical(clipkit, paths, size):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "crops.safetensors")
        subprocess.run([clipkit, "preprocess", "--size", str(size), "--dump-uint8", "-o", out] + paths,
                       check=True, capture_output=True)
        got = read_safetensors(out)
    same = 0
    for p in paths:
        want = np.asarray(pillow_crop(p, size))
        ours = got[os.path.basename(p) + ".uint8"]
        if ours.shape == want.shape and np.array_equal(ours, want):
            same += 1
        else:
            print(f"  MISMATCH {os.path.basename(p)}: "
                  f"{int(np.count_nonzero(ours != want)) if ours.shape == want.shape else 'shape'}",
                  file=sys.stderr)
    return same


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"),
                    help="build folder with image_bench and clipkit")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--loops", type=int, default=3, help="passes over the photos per round")
    ap.add_argument("--photos", default=os.path.join(ROOT, "bench", "results", "tmp", "photos"))
    ap.add_argument("--json", help="also write every measurement to this file")
    a = ap.parse_args()

    bench = os.path.join(a.build, "image_bench")
    clipkit = os.path.join(a.build, "clipkit")
    paths = make_photos(a.photos)
    sizes = [Image.open(p).size for p in paths]
    print(f"Pillow {PIL.__version__}, numpy {np.__version__}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"{len(paths)} photos: " + ", ".join(f"{os.path.basename(p)} {w}x{h}"
                                                 for p, (w, h) in zip(paths, sizes)))
    if os.path.exists(clipkit):
        same = check_identical(clipkit, paths, a.size)
        print(f"8-bit crops identical to Pillow's: {same} of {len(paths)}")

    results = []
    n = len(paths) * a.loops
    for threads in [int(t) for t in a.threads.split(",")]:
        ck, pil = [], []
        for r in range(a.rounds):
            order = ["clipkit", "pillow"] if r % 2 == 0 else ["pillow", "clipkit"]
            for who in order:
                if who == "clipkit":
                    ck.append(n / time_clipkit(bench, paths, a.size, threads, a.loops))
                else:
                    pil.append(n / time_pillow(paths, a.size, threads, a.loops))
        row = {"threads": threads, "clipkit_images_per_s": statistics.median(ck),
               "pillow_images_per_s": statistics.median(pil), "clipkit_rounds": ck,
               "pillow_rounds": pil}
        row["ratio"] = row["clipkit_images_per_s"] / row["pillow_images_per_s"]
        results.append(row)

    print(f"\ndecode + resize + crop at {a.size}, {a.rounds} rounds x {n} images, medians:")
    print("| threads | clipkit images/s | Pillow images/s | clipkit / Pillow |")
    print("| ---: | ---: | ---: | ---: |")
    for r in results:
        print(f"| {r['threads']} | {r['clipkit_images_per_s']:.1f} | {r['pillow_images_per_s']:.1f} "
              f"| {r['ratio']:.2f}x |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"command": " ".join(sys.argv), "pillow": PIL.__version__,
                       "photos": [os.path.basename(p) for p in paths], "size": a.size,
                       "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
