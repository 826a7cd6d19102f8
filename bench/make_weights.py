#!/usr/bin/python3
"""Writes full-size random-weight CLIP models as OpenCLIP folders for the benchmarks.

Each model is a folder <out>/<name>/ with open_clip_config.json (model_cfg with the published
hyperparameters, quick_gelu stated explicitly) and open_clip_model.safetensors (OpenAI state-dict
names), the layout clipkit and bench/clip_torch.py both load. Weights are seeded and drawn with the
scales of OpenAI's CLIP.initialize_parameters, so activations have realistic magnitudes:

  token_embedding N(0, 0.02); text positional_embedding N(0, 0.01); every transformer block (text
  and ViT) attn.in_proj N(0, W^-1/2), attn.out_proj and mlp.c_proj N(0, W^-1/2 (2L)^-1/2),
  mlp.c_fc N(0, (2W)^-1/2); text_projection N(0, W^-1/2); ViT class/positional embedding and proj
  W^-1/2 N(0, 1), patch conv N(0, fan_in^-1/2); ResNet convs N(0, (2/fan_in)^1/2), attention pool
  q/k/v/c_proj and positional embedding N(0, C^-1/2); logit_scale log(1/0.07).

and then, as in clipkit's test fixtures, no parameter is left at exactly 0 or 1: LayerNorm and
BatchNorm weights 1 + N(0, 0.1) (the last BatchNorm of each ResNet bottleneck 0.5 + N(0, 0.05), where
OpenAI starts from 0, so that residual branches contribute), their biases N(0, 0.05), every other
bias N(0, 0.02). ResNet BatchNorm running statistics are set by one training-mode pass
(cumulative average) over 8 smooth random images, so inference sees normalised activations.

Models (published OpenCLIP/OpenAI hyperparameters), each a complete CLIP model:
  ViT-B-32      OpenAI ViT-B/32, QuickGELU, 151.3 M parameters
  ViT-L-14      OpenAI ViT-L/14, QuickGELU, 427.6 M; its text tower is Stable Diffusion 1.x's encoder
  RN50          OpenAI RN50 (ModifiedResNet + attention pool), QuickGELU, 102.0 M
  ViT-H-14      OpenCLIP ViT-H-14, GELU, 986.1 M; its text tower is Stable Diffusion 2.x's encoder
  ViT-bigG-14   OpenCLIP ViT-bigG-14, GELU, 2 539.6 M (10 GB in fp32); its text tower is SDXL's second
With --text-only a model is written as <name>-text with the text tower alone (open_clip_config.json
without vision_cfg), for engines that load text-only OpenCLIP checkpoints.

Examples:
  /usr/bin/python3 bench/make_weights.py                       # all five, float32, into bench/models
  /usr/bin/python3 bench/make_weights.py ViT-H-14 ViT-bigG-14 --text-only
  /usr/bin/python3 bench/make_weights.py ViT-B-32 RN50 --dtype fp16
  /usr/bin/python3 bench/make_weights.py ViT-L-14 --out other-models --seed 7
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Callable, Dict, Iterable, Tuple

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clip_torch as ct  # noqa: E402

# name -> (preset, quick_gelu)
MODELS: Dict[str, Tuple[str, bool]] = {
    "ViT-B-32": ("ViT-B-32", True),
    "ViT-L-14": ("ViT-L-14", True),
    "RN50": ("RN50", True),
    "ViT-H-14": ("ViT-H-14", False),
    "ViT-bigG-14": ("ViT-bigG-14", False),
}
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")

_ST_NAME = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
            torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8"}


# --------------------------------------------------------------------------------------------
# safetensors writer (the layout of tests/data/README.md, Conventions)
# --------------------------------------------------------------------------------------------

def write_safetensors(path: str, shapes: Dict[str, Tuple[int, ...]], dtype: torch.dtype,
                      produce: Callable[[str], torch.Tensor], metadata: Dict[str, str]) -> None:
    """Writes tensors of one dtype: 8-byte little-endian header length, JSON header padded with
    spaces so that the data starts at a multiple of 8, then the tensors by name (with a single
    element size, "largest first, then name" is name order), with no gaps. `produce(name)` is
    called once per tensor, in that order, so a model never has to be in memory whole. Written to a
    temporary file and renamed, so a failure leaves no truncated file."""
    if dtype not in _ST_NAME:
        raise ValueError(f"dtype {dtype} cannot be written")
    size = torch.empty((), dtype=dtype).element_size()
    order = sorted(shapes)
    header: Dict[str, object] = {"__metadata__": dict(metadata)}
    offset = 0
    for name in order:
        nbytes = math.prod(shapes[name]) * size
        header[name] = {"dtype": _ST_NAME[dtype], "shape": list(shapes[name]), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((-(8 + len(text))) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for name in order:
            t = produce(name).to(dtype).contiguous()
            if tuple(t.shape) != tuple(shapes[name]):
                raise ValueError(f"{name}: produced shape {list(t.shape)}, declared {list(shapes[name])}")
            # Raw bytes (numpy has no bfloat16); x86 memory order is the little-endian file order.
            f.write(t.reshape(-1).view(torch.uint8).numpy().data)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# Initialisation
# --------------------------------------------------------------------------------------------

def _normal(shape, std: float, g: torch.Generator, mean: float = 0.0) -> torch.Tensor:
    return torch.randn(shape, generator=g) * std + mean


def init_tensor(name: str, shape: Tuple[int, ...], cfg: ct.ClipCfg, g: torch.Generator) -> torch.Tensor:
    """The initial value of one OpenAI-named tensor (see the module docstring)."""
    is_vis = name.startswith("visual.")
    last = name.rsplit(".", 1)[-1]
    if name == "logit_scale":
        return torch.tensor(math.log(1 / 0.07))
    if name == "token_embedding.weight":
        return _normal(shape, 0.02, g)
    if name == "positional_embedding":
        return _normal(shape, 0.01, g)
    if name == "text_projection":
        return _normal(shape, cfg.text.width ** -0.5, g)
    if ".resblocks." in name:
        width = cfg.vision.width if is_vis else cfg.text.width
        layers = cfg.vision.layers if is_vis else cfg.text.layers
        attn_std, proj_std, fc_std = width ** -0.5, width ** -0.5 * (2 * layers) ** -0.5, (2 * width) ** -0.5
        if ".ln_" in name:
            return _normal(shape, 0.1, g, 1.0) if last == "weight" else _normal(shape, 0.05, g)
        if last.endswith("bias"):
            return _normal(shape, 0.02, g)
        if "in_proj_weight" in name:
            return _normal(shape, attn_std, g)
        if "c_fc" in name:
            return _normal(shape, fc_std, g)
        return _normal(shape, proj_std, g)  # attn.out_proj.weight, mlp.c_proj.weight
    if name.startswith("ln_") or name.startswith("visual.ln_"):
        return _normal(shape, 0.1, g, 1.0) if last == "weight" else _normal(shape, 0.05, g)
    if not is_vis:
        raise ValueError(f"no initialisation rule for '{name}'")
    v = cfg.vision
    if not v.is_resnet:
        if name == "visual.conv1.weight":
            return _normal(shape, (3 * v.patch_size ** 2) ** -0.5, g)
        if name in ("visual.class_embedding", "visual.positional_embedding", "visual.proj"):
            return _normal(shape, v.width ** -0.5, g)
        raise ValueError(f"no initialisation rule for '{name}'")
    if ".attnpool." in name:
        c = v.width * 32
        return _normal(shape, 0.02, g) if last == "bias" else _normal(shape, c ** -0.5, g)
    if len(shape) == 4:  # convolution (stem, bottleneck, downsample)
        return _normal(shape, math.sqrt(2.0 / (shape[1] * shape[2] * shape[3])), g)
    if last == "running_mean":
        return torch.zeros(shape)
    if last == "running_var":
        return torch.ones(shape)
    if last == "weight":  # BatchNorm gain
        return _normal(shape, 0.05, g, 0.5) if name.endswith("bn3.weight") and ".layer" in name \
            else _normal(shape, 0.1, g, 1.0)
    if last == "bias":
        return _normal(shape, 0.05, g)
    raise ValueError(f"no initialisation rule for '{name}'")


def calibrate_batchnorm(cfg: ct.ClipCfg, tensors: Dict[str, torch.Tensor], seed: int) -> None:
    """One training-mode pass with cumulative averaging sets every running mean/variance."""
    model = ct.CLIP(cfg, device="meta")
    ct.assign_weights(model, tensors, "generated weights")
    model.eval()
    for m in model.visual.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.train()
            m.momentum = None  # cumulative moving average
    x = torch.from_numpy(ct.random_images(8, cfg.vision.image_size, seed=seed + 1))
    with torch.no_grad():
        model.visual(x)
    # assign_weights used the generated running_mean/var tensors in place, so `tensors` now holds
    # the calibrated statistics.


def make_model(name: str, out_dir: str, seed: int, dtype: torch.dtype, text_only: bool) -> str:
    preset, quick_gelu = MODELS[name]
    model_cfg = dict(ct.PRESETS[preset])
    model_cfg["quick_gelu"] = quick_gelu
    if text_only:
        model_cfg.pop("vision_cfg")
        name += "-text"
    cfg = ct.parse_model_cfg(model_cfg, name)
    shapes = ct.expected_tensors(cfg)
    g = torch.Generator().manual_seed(seed)
    t0 = time.time()
    if cfg.vision is not None and cfg.vision.is_resnet:
        # BatchNorm calibration needs the whole model; ResNets are small.
        tensors = {n: init_tensor(n, shapes[n], cfg, g).float() for n in sorted(shapes)}
        calibrate_batchnorm(cfg, tensors, seed)
        produce = tensors.pop
    else:
        # Drawn in the order written (sorted names), so the values do not depend on streaming.
        produce = lambda n: init_tensor(n, shapes[n], cfg, g)  # noqa: E731

    folder = os.path.join(out_dir, name + ("" if dtype == torch.float32 else "-" + _dtype_label(dtype)))
    os.makedirs(folder, exist_ok=True)
    meta = {"format": "pt", "generator": "clipkit bench/make_weights.py", "architecture": preset,
            "seed": str(seed), "dtype": _dtype_label(dtype), "text_only": str(text_only).lower(),
            "init": "OpenAI initialize_parameters scales; norms 1+N(0,0.1); biases N(0,0.02)"}
    write_safetensors(os.path.join(folder, "open_clip_model.safetensors"), shapes, dtype, produce, meta)
    config = {"model_cfg": model_cfg,
              "preprocess_cfg": {"mean": list(ct.OPENAI_MEAN), "std": list(ct.OPENAI_STD),
                                 "interpolation": "bicubic", "resize_mode": "shortest"}}
    with open(os.path.join(folder, "open_clip_config.json"), "w") as f:
        json.dump(config, f, indent=1)
    n_params = sum(math.prod(s) for s in shapes.values())
    print(f"{folder}: {len(shapes)} tensors, {n_params / 1e6:.1f} M values, {_dtype_label(dtype)}, "
          f"{time.time() - t0:.1f} s", flush=True)
    return folder


def _dtype_label(dtype: torch.dtype) -> str:
    return {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}[dtype]


def main(argv: Iterable[str] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", default=list(MODELS), metavar="MODEL",
                   help=f"models to write (default: all of {', '.join(MODELS)})")
    p.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: bench/models, git-ignored)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--dtype", choices=["fp32", "fp16", "bf16"], default="fp32",
                   help="on-disk dtype; non-fp32 folders get a -fp16/-bf16 suffix (default fp32)")
    p.add_argument("--text-only", action="store_true",
                   help="write only the text towers, as <name>-text (config without vision_cfg)")
    a = p.parse_args(argv)
    for m in a.models:
        if m not in MODELS:
            p.error(f"unknown model '{m}' (known: {', '.join(MODELS)})")
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[a.dtype]
    for m in a.models:
        make_model(m, a.out, a.seed, dtype, a.text_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
