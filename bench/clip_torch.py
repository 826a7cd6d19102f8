#!/usr/bin/python3
"""PyTorch CLIP for clipkit's benchmarks: the baseline clipkit is compared against.

The OpenAI / OpenCLIP architectures written from their equations in plain PyTorch (nothing from
open_clip, clip or transformers is imported): the causal text transformer, the Vision Transformer
(conv2d patchify, class token, pre/post LayerNorm) and the ModifiedResNet (3-conv stem, anti-aliased
bottlenecks, attention pooling), with QuickGELU or exact GELU. Models are loaded from the same files
clipkit loads: an OpenCLIP folder (open_clip_config.json + open_clip_model.safetensors, OpenAI
state-dict names) or a bare .safetensors with a named preset (--arch). Weights are memory-mapped and,
when stored as float32, used in place without a copy; float16/bfloat16 weights are upcast to float32
once at load. All arithmetic is float32.

Subcommands:
  bench   the same interface as `clipkit bench`: times the forward pass (or model load) on given or
          random inputs and prints one JSON line {"times_ms": [...], ...}
  embed   what `clipkit embed --image` does, for the start-up comparison: load the model, read and
          preprocess images as OpenAI's `preprocess` does (PIL bicubic resize of the short side,
          center crop, RGB, normalise), one forward pass, L2-normalised embeddings to a .npy file
  sgemm   measures the fp32 GEMM rate of torch.matmul and numpy (n^3) with the given threads
  info    prints a model's architecture, parameter count and analytic FLOPs

Examples:
  /usr/bin/python3 bench/clip_torch.py info --model bench/models/ViT-B-32
  OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/clip_torch.py bench \\
      --model bench/models/ViT-B-32 --task image --batch 32 --threads 2 --iters 5
  /usr/bin/python3 bench/clip_torch.py sgemm --threads 2 --n 4096
  /usr/bin/python3 bench/clip_torch.py embed --model bench/models/ViT-B-32 --image tests/data/images/rocket.jpg -o e.npy
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CONTEXT_LENGTH = 77
SOT_ID, EOT_ID = 49406, 49407
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
HAS_SDPA = hasattr(F, "scaled_dot_product_attention")  # PyTorch >= 2.0

# --------------------------------------------------------------------------------------------
# safetensors reading (memory-mapped, zero-copy where the dtype allows)
# --------------------------------------------------------------------------------------------

_ST_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
    # Reinterpreted as torch.bfloat16 below (numpy has no bfloat16; torch.from_numpy takes int16,
    # not uint16).
    "BF16": np.int16,
}


def read_safetensors(path: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """Returns ({name: tensor}, metadata). Tensors are views of a private (copy-on-write) mapping
    of the file, so nothing is read until it is touched and nothing is ever written back."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise ValueError(f"{path}: shorter than the 8-byte header length")
        n = int.from_bytes(head, "little")
        header = json.loads(f.read(n))
    data_start = 8 + n
    raw = np.memmap(path, dtype=np.uint8, mode="c")
    metadata = header.pop("__metadata__", {}) or {}
    out: Dict[str, torch.Tensor] = {}
    for name, info in header.items():
        dt = info["dtype"]
        if dt not in _ST_DTYPES:
            raise ValueError(f"{path}: tensor '{name}' has unsupported dtype {dt}")
        begin, end = info["data_offsets"]
        npdt = np.dtype(_ST_DTYPES[dt]).newbyteorder("<")
        shape = tuple(info["shape"])
        count = math.prod(shape)
        if end - begin != count * npdt.itemsize or data_start + end > raw.size:
            raise ValueError(f"{path}: tensor '{name}' byte range [{begin}, {end}) does not match "
                             f"{dt} {list(shape)} or lies outside the file")
        chunk = raw[data_start + begin:data_start + end]
        if (data_start + begin) % npdt.itemsize:
            chunk = chunk.copy()  # misaligned: numpy could view it, torch kernels should not
        arr = chunk.view(npdt).reshape(shape)
        t = torch.from_numpy(arr)
        if dt == "BF16":
            t = t.view(torch.bfloat16)
        out[name] = t
    return out, metadata


# --------------------------------------------------------------------------------------------
# Configuration: open_clip_config.json's model_cfg, or a named preset with OpenCLIP's values
# --------------------------------------------------------------------------------------------

@dataclass
class TextCfg:
    context_length: int = 77
    vocab_size: int = 49408
    width: int = 512
    heads: int = 8
    layers: int = 12
    mlp_ratio: float = 4.0

    @property
    def mlp_width(self) -> int:
        return int(self.width * self.mlp_ratio)


@dataclass
class VisionCfg:
    image_size: int = 224
    layers: Union[int, Tuple[int, int, int, int]] = 12  # int: ViT blocks; 4-tuple: ResNet stages
    width: int = 768  # ViT width, or the ResNet stem width (64 for RN50)
    head_width: int = 64
    patch_size: int = 16
    mlp_ratio: float = 4.0

    @property
    def is_resnet(self) -> bool:
        return not isinstance(self.layers, int)

    @property
    def heads(self) -> int:
        # OpenCLIP: ViT heads = width / head_width; ResNet attention-pool heads = width*32 / head_width.
        return (self.width * 32 if self.is_resnet else self.width) // self.head_width

    @property
    def mlp_width(self) -> int:
        return int(self.width * self.mlp_ratio)


@dataclass
class ClipCfg:
    name: str = ""
    embed_dim: int = 512
    quick_gelu: bool = False
    text: Optional[TextCfg] = None
    vision: Optional[VisionCfg] = None
    extra: Dict[str, object] = field(default_factory=dict)


def _text(width, heads, layers):
    return {"context_length": 77, "vocab_size": 49408, "width": width, "heads": heads, "layers": layers}


# OpenCLIP's published model configs (src/open_clip/model_configs/*.json); "-quickgelu" variants
# are the OpenAI-trained weights' activation.
PRESETS: Dict[str, dict] = {
    "ViT-B-32": {"embed_dim": 512, "vision_cfg": {"image_size": 224, "layers": 12, "width": 768, "patch_size": 32},
                 "text_cfg": _text(512, 8, 12)},
    "ViT-B-16": {"embed_dim": 512, "vision_cfg": {"image_size": 224, "layers": 12, "width": 768, "patch_size": 16},
                 "text_cfg": _text(512, 8, 12)},
    "ViT-L-14": {"embed_dim": 768, "vision_cfg": {"image_size": 224, "layers": 24, "width": 1024, "patch_size": 14},
                 "text_cfg": _text(768, 12, 12)},
    "ViT-L-14-336": {"embed_dim": 768,
                     "vision_cfg": {"image_size": 336, "layers": 24, "width": 1024, "patch_size": 14},
                     "text_cfg": _text(768, 12, 12)},
    "ViT-H-14": {"embed_dim": 1024,
                 "vision_cfg": {"image_size": 224, "layers": 32, "width": 1280, "head_width": 80, "patch_size": 14},
                 "text_cfg": _text(1024, 16, 24)},
    "ViT-bigG-14": {"embed_dim": 1280,
                    "vision_cfg": {"image_size": 224, "layers": 48, "width": 1664, "head_width": 104,
                                   "mlp_ratio": 4.9231, "patch_size": 14},
                    "text_cfg": _text(1280, 20, 32)},
    "RN50": {"embed_dim": 1024, "vision_cfg": {"image_size": 224, "layers": [3, 4, 6, 3], "width": 64},
             "text_cfg": _text(512, 8, 12)},
    "RN101": {"embed_dim": 512, "vision_cfg": {"image_size": 224, "layers": [3, 4, 23, 3], "width": 64},
              "text_cfg": _text(512, 8, 12)},
    "RN50x4": {"embed_dim": 640, "vision_cfg": {"image_size": 288, "layers": [4, 6, 10, 6], "width": 80},
               "text_cfg": _text(640, 10, 12)},
}
for _n in ["ViT-B-32", "ViT-B-16", "ViT-L-14", "ViT-L-14-336", "RN50", "RN101", "RN50x4"]:
    PRESETS[_n + "-quickgelu"] = dict(PRESETS[_n], quick_gelu=True)

# Keys of OpenCLIP configs that do not change the inference math, and keys we implement.
_HARMLESS = {"patch_dropout", "output_tokens", "output_dim", "attn_pooler_heads", "attn_pooler_queries",
             "hf_tokenizer_name", "tokenizer_kwargs", "init_logit_bias", "custom_text", "cast_dtype",
             "timm_pool", "timm_proj", "timm_drop", "timm_drop_path", "timm_model_pretrained",
             "text_mask", "n_queries"}
_TEXT_KEYS = {"context_length", "vocab_size", "width", "heads", "layers", "mlp_ratio"}
_VISION_KEYS = {"image_size", "layers", "width", "head_width", "patch_size", "mlp_ratio"}
# Non-default values of these would change the math; accept only the defaults.
_DEFAULTS_ONLY = {"ls_init_value": None, "attentional_pool": False, "no_ln_pre": False, "pool_type": None,
                  "final_ln_after_pool": False, "proj_bias": False, "embed_cls": False, "pad_id": 0,
                  "timm_model_name": None, "hf_model_name": None, "proj_type": "linear", "act_kwargs": None,
                  "norm_kwargs": None, "input_patchnorm": False, "global_average_pool": False}


def _sub_cfg(d: dict, cls, keys: set, where: str):
    kw = {}
    for k, v in d.items():
        if k in keys:
            kw[k] = tuple(v) if isinstance(v, list) else v
        elif k in _DEFAULTS_ONLY:
            ok = v == _DEFAULTS_ONLY[k] or (k == "pool_type" and v in ("tok", "argmax")) or (
                k == "proj_type" and v in (None, "linear"))
            if not ok:
                raise ValueError(f"{where}: '{k}': {v!r} is not supported by this implementation")
        elif k not in _HARMLESS:
            raise ValueError(f"{where}: unknown key '{k}'")
    return cls(**kw)


def parse_model_cfg(model_cfg: dict, name: str = "") -> ClipCfg:
    cfg = ClipCfg(name=name, embed_dim=int(model_cfg["embed_dim"]),
                  quick_gelu=bool(model_cfg.get("quick_gelu", False)))
    if "text_cfg" in model_cfg:
        cfg.text = _sub_cfg(model_cfg["text_cfg"], TextCfg, _TEXT_KEYS, f"{name}: text_cfg")
    if "vision_cfg" in model_cfg:
        cfg.vision = _sub_cfg(model_cfg["vision_cfg"], VisionCfg, _VISION_KEYS, f"{name}: vision_cfg")
        if cfg.vision.is_resnet and len(cfg.vision.layers) != 4:
            raise ValueError(f"{name}: vision_cfg.layers must be an int (ViT) or 4 stage depths (ResNet)")
    for k in model_cfg:
        if k not in ("embed_dim", "quick_gelu", "text_cfg", "vision_cfg") and k not in _HARMLESS \
                and k not in _DEFAULTS_ONLY:
            raise ValueError(f"{name}: unknown model_cfg key '{k}'")
    if cfg.text is None and cfg.vision is None:
        raise ValueError(f"{name}: model_cfg has neither text_cfg nor vision_cfg")
    return cfg


def resolve_model(path: str, arch: Optional[str] = None) -> Tuple[ClipCfg, str]:
    """(config, weights file) for a model folder or a .safetensors file; `arch` (a preset name)
    overrides any config file."""
    if os.path.isdir(path):
        weights = os.path.join(path, "open_clip_model.safetensors")
        cfg_path = os.path.join(path, "open_clip_config.json")
    else:
        weights = path
        cfg_path = os.path.join(os.path.dirname(path) or ".", "open_clip_config.json")
    if arch:
        if arch not in PRESETS:
            raise ValueError(f"unknown preset '{arch}' (known: {', '.join(sorted(PRESETS))})")
        return parse_model_cfg(PRESETS[arch], arch), weights
    if not os.path.exists(cfg_path):
        raise ValueError(f"{path}: no open_clip_config.json; name the architecture with --arch")
    with open(cfg_path) as f:
        j = json.load(f)
    return parse_model_cfg(j.get("model_cfg", j), cfg_path), weights


# --------------------------------------------------------------------------------------------
# Modules. Parameter names follow OpenAI's state dict except that the fused attention input
# projection is an nn.Linear ("attn.in_proj.weight" for OpenAI's "attn.in_proj_weight").
# Sequences are batch-first [N, L, D].
# --------------------------------------------------------------------------------------------

class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class SelfAttention(nn.Module):
    def __init__(self, width: int, heads: int, **fk):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by {heads} heads")
        self.heads, self.head_dim = heads, width // heads
        self.scale = self.head_dim ** -0.5
        self.in_proj = nn.Linear(width, 3 * width, **fk)
        self.out_proj = nn.Linear(width, width, **fk)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        n, l, w = x.shape
        h, d = self.heads, self.head_dim
        qkv = self.in_proj(x).view(n, l, 3, h, d).permute(2, 0, 3, 1, 4)  # [3, N, H, L, d]
        q, k, v = qkv.unbind(0)
        if HAS_SDPA:
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            q = q.reshape(n * h, l, d) * self.scale
            kt = k.reshape(n * h, l, d).transpose(1, 2)
            # baddbmm folds the additive causal mask into the score GEMM's output pass.
            s = torch.baddbmm(mask, q, kt) if mask is not None else torch.bmm(q, kt)
            o = torch.bmm(torch.softmax(s, dim=-1), v.reshape(n * h, l, d)).view(n, h, l, d)
        return self.out_proj(o.transpose(1, 2).reshape(n, l, w))


class ResidualBlock(nn.Module):
    def __init__(self, width: int, heads: int, mlp_width: int, act: type, **fk):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width, **fk)
        self.attn = SelfAttention(width, heads, **fk)
        self.ln_2 = nn.LayerNorm(width, **fk)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(width, mlp_width, **fk)), ("gelu", act()),
            ("c_proj", nn.Linear(mlp_width, width, **fk))]))

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int, mlp_width: int, act: type, **fk):
        super().__init__()
        self.resblocks = nn.ModuleList([ResidualBlock(width, heads, mlp_width, act, **fk) for _ in range(layers)])

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, mask)
        return x


class VisionTransformer(nn.Module):
    def __init__(self, v: VisionCfg, embed_dim: int, act: type, **fk):
        super().__init__()
        w, grid = v.width, v.image_size // v.patch_size
        self.conv1 = nn.Conv2d(3, w, kernel_size=v.patch_size, stride=v.patch_size, bias=False, **fk)
        self.class_embedding = nn.Parameter(torch.empty(w, **fk))
        self.positional_embedding = nn.Parameter(torch.empty(grid * grid + 1, w, **fk))
        self.ln_pre = nn.LayerNorm(w, **fk)
        self.transformer = Transformer(w, v.layers, v.heads, v.mlp_width, act, **fk)
        self.ln_post = nn.LayerNorm(w, **fk)
        self.proj = nn.Parameter(torch.empty(w, embed_dim, **fk))

    def forward(self, pixels: torch.Tensor, project: bool = True) -> torch.Tensor:
        x = self.conv1(pixels).flatten(2).transpose(1, 2)  # [N, grid², W], patches row-major
        cls = self.class_embedding.expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding
        x = self.transformer(self.ln_pre(x))
        x = self.ln_post(x[:, 0])
        return x @ self.proj if project else x


class Bottleneck(nn.Module):
    """OpenAI's anti-aliased bottleneck: strided stages average-pool after the 3x3 conv, and the
    shortcut average-pools before its 1x1 conv."""
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int, **fk):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False, **fk)
        self.bn1 = nn.BatchNorm2d(planes, **fk)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False, **fk)
        self.bn2 = nn.BatchNorm2d(planes, **fk)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False, **fk)
        self.bn3 = nn.BatchNorm2d(planes * 4, **fk)
        self.downsample = None
        if stride > 1 or inplanes != planes * 4:
            # Names "-1"/"0"/"1" reproduce OpenAI's keys downsample.0.weight (conv), downsample.1.* (bn).
            self.downsample = nn.Sequential(OrderedDict([
                ("-1", nn.AvgPool2d(stride) if stride > 1 else nn.Identity()),
                ("0", nn.Conv2d(inplanes, planes * 4, 1, bias=False, **fk)),
                ("1", nn.BatchNorm2d(planes * 4, **fk))]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = F.relu(self.bn2(self.conv2(out)), inplace=True)
        out = self.bn3(self.conv3(self.avgpool(out)))
        identity = self.downsample(x) if self.downsample is not None else x
        return F.relu(out + identity, inplace=True)


class AttentionPool2d(nn.Module):
    """Multi-head attention of the spatial mean (query) over [mean, positions] (keys/values)."""

    def __init__(self, spatial: int, width: int, heads: int, out_dim: int, **fk):
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.empty(spatial * spatial + 1, width, **fk))
        self.q_proj = nn.Linear(width, width, **fk)
        self.k_proj = nn.Linear(width, width, **fk)
        self.v_proj = nn.Linear(width, width, **fk)
        self.c_proj = nn.Linear(width, out_dim, **fk)
        self.heads = heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        x = x.flatten(2).transpose(1, 2)  # [N, HW, C]
        x = torch.cat([x.mean(dim=1, keepdim=True), x], dim=1) + self.positional_embedding
        h, d = self.heads, c // self.heads
        l = x.shape[1]
        q = self.q_proj(x[:, :1]).view(n, 1, h, d).transpose(1, 2)
        k = self.k_proj(x).view(n, l, h, d).transpose(1, 2)
        v = self.v_proj(x).view(n, l, h, d).transpose(1, 2)
        if HAS_SDPA:
            o = F.scaled_dot_product_attention(q, k, v)
        else:
            o = torch.softmax((q * d ** -0.5) @ k.transpose(-1, -2), dim=-1) @ v
        return self.c_proj(o.reshape(n, c))


class ModifiedResNet(nn.Module):
    def __init__(self, v: VisionCfg, embed_dim: int, **fk):
        super().__init__()
        w = v.width
        self.conv1 = nn.Conv2d(3, w // 2, 3, stride=2, padding=1, bias=False, **fk)
        self.bn1 = nn.BatchNorm2d(w // 2, **fk)
        self.conv2 = nn.Conv2d(w // 2, w // 2, 3, padding=1, bias=False, **fk)
        self.bn2 = nn.BatchNorm2d(w // 2, **fk)
        self.conv3 = nn.Conv2d(w // 2, w, 3, padding=1, bias=False, **fk)
        self.bn3 = nn.BatchNorm2d(w, **fk)
        self.avgpool = nn.AvgPool2d(2)
        inplanes = w
        for s, depth in enumerate(v.layers):
            planes, stride = w * (1 << s), 1 if s == 0 else 2
            blocks = []
            for j in range(depth):
                blocks.append(Bottleneck(inplanes, planes, stride if j == 0 else 1, **fk))
                inplanes = planes * 4
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        self.attnpool = AttentionPool2d(v.image_size // 32, w * 32, v.heads, embed_dim, **fk)
        self.channels_last = False  # set by optimize_for_inference

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)), inplace=True)
        x = F.relu(self.bn2(self.conv2(x)), inplace=True)
        x = F.relu(self.bn3(self.conv3(x)), inplace=True)
        return self.avgpool(x)

    def forward(self, pixels: torch.Tensor, project: bool = True) -> torch.Tensor:
        if not project:
            raise ValueError("ModifiedResNet has no unprojected pooled output")
        if self.channels_last:
            pixels = pixels.contiguous(memory_format=torch.channels_last)
        x = self.stem(pixels)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.attnpool(x)


class CLIP(nn.Module):
    def __init__(self, cfg: ClipCfg, device: Union[str, torch.device] = "cpu"):
        super().__init__()
        fk = {"device": device}
        self.cfg = cfg
        act = QuickGELU if cfg.quick_gelu else nn.GELU
        if cfg.vision is not None:
            self.visual = (ModifiedResNet(cfg.vision, cfg.embed_dim, **fk) if cfg.vision.is_resnet
                           else VisionTransformer(cfg.vision, cfg.embed_dim, act, **fk))
        if cfg.text is not None:
            t = cfg.text
            self.token_embedding = nn.Embedding(t.vocab_size, t.width, **fk)
            self.positional_embedding = nn.Parameter(torch.empty(t.context_length, t.width, **fk))
            self.transformer = Transformer(t.width, t.layers, t.heads, t.mlp_width, act, **fk)
            self.ln_final = nn.LayerNorm(t.width, **fk)
            self.text_projection = nn.Parameter(torch.empty(t.width, cfg.embed_dim, **fk))
        self.logit_scale = nn.Parameter(torch.empty((), **fk))
        self._masks: Dict[Tuple[int, torch.dtype], torch.Tensor] = {}

    def causal_mask(self, l: int, dtype: torch.dtype) -> torch.Tensor:
        key = (l, dtype)
        if key not in self._masks:
            self._masks[key] = torch.full((l, l), float("-inf"), dtype=dtype).triu_(1)
        return self._masks[key]

    def encode_image(self, pixels: torch.Tensor, project: bool = True) -> torch.Tensor:
        return self.visual(pixels, project)

    def encode_text(self, ids: torch.Tensor, project: bool = True) -> torch.Tensor:
        ids = ids.long()
        n, l = ids.shape
        x = self.token_embedding(ids) + self.positional_embedding[:l]
        x = self.transformer(x, self.causal_mask(l, x.dtype))
        # OpenAI pools at argmax(ids) (the first <|endoftext|>); LayerNorm is per token, so it is
        # applied to the pooled rows only.
        x = self.ln_final(x[torch.arange(n), ids.argmax(dim=-1)])
        return x @ self.text_projection if project else x


# --------------------------------------------------------------------------------------------
# Loading: OpenAI state-dict names onto the modules, without copying float32 weights
# --------------------------------------------------------------------------------------------

def openai_to_module_name(name: str) -> str:
    return name.replace("attn.in_proj_weight", "attn.in_proj.weight").replace(
        "attn.in_proj_bias", "attn.in_proj.bias")


def module_to_openai_name(name: str) -> str:
    return name.replace("attn.in_proj.weight", "attn.in_proj_weight").replace(
        "attn.in_proj.bias", "attn.in_proj_bias")


def expected_tensors(cfg: ClipCfg) -> "OrderedDict[str, Tuple[int, ...]]":
    """OpenAI state-dict names and shapes of the model (BatchNorm counters excluded)."""
    model = CLIP(cfg, device="meta")
    out = OrderedDict()
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        if not name.endswith("num_batches_tracked"):
            out[module_to_openai_name(name)] = tuple(t.shape)
    return out


def assign_weights(model: CLIP, tensors: Dict[str, torch.Tensor], label: str) -> None:
    """Puts `tensors` (OpenAI names) into `model` as its parameters/buffers. float32 tensors are
    used as they are (no copy); other float dtypes are upcast to float32. Every tensor of the
    model must be given exactly once and every given tensor must be used."""
    modules = dict(model.named_modules())
    expected = {n for n, _ in model.named_parameters()} | {
        n for n, _ in model.named_buffers() if not n.endswith("num_batches_tracked")}
    seen = set()
    for oname, t in tensors.items():
        if oname.endswith("num_batches_tracked"):
            continue
        name = openai_to_module_name(oname)
        if name not in expected:
            raise ValueError(f"{label}: unexpected tensor '{oname}' for this architecture")
        mod_name, _, attr = name.rpartition(".")
        mod = modules[mod_name]
        cur = mod._parameters.get(attr) if attr in mod._parameters else mod._buffers.get(attr)
        if tuple(cur.shape) != tuple(t.shape):
            raise ValueError(f"{label}: tensor '{oname}' has shape {list(t.shape)}, "
                             f"the architecture needs {list(cur.shape)}")
        if t.dtype != torch.float32:
            t = t.float()
        if attr in mod._parameters:
            mod._parameters[attr] = nn.Parameter(t, requires_grad=False)
        else:
            mod._buffers[attr] = t
        seen.add(name)
    missing = sorted(expected - seen)
    if missing:
        shown = ", ".join(module_to_openai_name(m) for m in missing[:5])
        raise ValueError(f"{label}: {len(missing)} tensors missing, e.g. {shown}")
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d) and mod.num_batches_tracked is not None:
            mod.num_batches_tracked = torch.zeros((), dtype=torch.long)


def load_model(path: str, arch: Optional[str] = None) -> CLIP:
    """Builds the model on the meta device (no initialisation work) and fills it from the file."""
    cfg, weights = resolve_model(path, arch)
    tensors, _ = read_safetensors(weights)
    model = CLIP(cfg, device="meta")
    assign_weights(model, tensors, weights)
    return model.eval()


def optimize_for_inference(model: CLIP, fuse_bn: bool = True, channels_last: bool = True) -> None:
    """The usual inference-time rewrites of a ResNet in PyTorch (no effect on ViTs and text):
    fold every eval-mode BatchNorm into the convolution before it (PyTorch's own
    fuse_conv_bn_eval), and run the convolutions in channels-last layout, which oneDNN (PyTorch's
    CPU convolution) prefers. Measured faster here at batch 1 and 16."""
    v = getattr(model, "visual", None)
    if not isinstance(v, ModifiedResNet):
        return
    if fuse_bn:
        _fuse_batchnorm(v)
    if channels_last:
        v.to(memory_format=torch.channels_last)
        v.channels_last = True


def _fuse_batchnorm(v: ModifiedResNet) -> None:
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    pairs = [(v, "conv1", "bn1"), (v, "conv2", "bn2"), (v, "conv3", "bn3")]
    for m in v.modules():
        if isinstance(m, Bottleneck):
            pairs += [(m, "conv1", "bn1"), (m, "conv2", "bn2"), (m, "conv3", "bn3")]
            if m.downsample is not None:
                pairs.append((m.downsample, "0", "1"))
    for parent, c, b in pairs:
        fused = fuse_conv_bn_eval(getattr(parent, c), getattr(parent, b))
        setattr(parent, c, fused)
        setattr(parent, b, nn.Identity())


# --------------------------------------------------------------------------------------------
# Analytic FLOPs (2 per multiply-add; GEMMs and convolutions only, as is customary)
# --------------------------------------------------------------------------------------------

def _transformer_flops(tokens: int, width: int, mlp: int, layers: int) -> int:
    per_layer = (2 * tokens * width * 3 * width      # q, k, v projections
                 + 2 * tokens * tokens * width * 2   # scores q·k and weighted sum of v (full square)
                 + 2 * tokens * width * width        # attention output projection
                 + 2 * 2 * tokens * width * mlp)     # MLP up and down
    return layers * per_layer


def text_flops(cfg: ClipCfg) -> int:
    """One sequence of context_length tokens, projection of the pooled token included."""
    t = cfg.text
    return _transformer_flops(t.context_length, t.width, t.mlp_width, t.layers) + 2 * t.width * cfg.embed_dim


def image_flops(cfg: ClipCfg) -> int:
    v = cfg.vision
    if not v.is_resnet:
        grid = v.image_size // v.patch_size
        patches = 2 * grid * grid * v.width * 3 * v.patch_size * v.patch_size
        return (patches + _transformer_flops(grid * grid + 1, v.width, v.mlp_width, v.layers)
                + 2 * v.width * cfg.embed_dim)

    def conv(cin, cout, k, hw_out):
        return 2 * cin * cout * k * k * hw_out * hw_out

    w, s = v.width, v.image_size // 2
    total = conv(3, w // 2, 3, s) + conv(w // 2, w // 2, 3, s) + conv(w // 2, w, 3, s)
    s //= 2  # stem average pool
    inplanes = w
    for stage, depth in enumerate(v.layers):
        planes = w * (1 << stage)
        for j in range(depth):
            stride = 2 if (stage > 0 and j == 0) else 1
            total += conv(inplanes, planes, 1, s) + conv(planes, planes, 3, s)
            s_out = s // stride
            total += conv(planes, planes * 4, 1, s_out)
            if stride > 1 or inplanes != planes * 4:
                total += conv(inplanes, planes * 4, 1, s_out)
            inplanes, s = planes * 4, s_out
    c, tokens = w * 32, s * s + 1
    total += 2 * c * c                     # query of the mean token
    total += 2 * 2 * tokens * c * c        # keys and values
    total += 2 * 2 * tokens * c            # scores and weighted sum (one query)
    total += 2 * c * cfg.embed_dim         # c_proj
    return total


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------

def random_tokens(n: int, seed: int = 0, context_length: int = CONTEXT_LENGTH) -> np.ndarray:
    """Token rows as clip.tokenize makes them: SOT, 5-75 ordinary ids, EOT, zero padding."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, context_length), dtype=np.int32)
    for i in range(n):
        k = int(rng.integers(5, context_length - 1))
        out[i, 0] = SOT_ID
        out[i, 1:1 + k] = rng.integers(1, SOT_ID, size=k)
        out[i, 1 + k] = EOT_ID
    return out


def random_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Normalised pixels of smooth random images (values in the range real photos give)."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((n, 3, 8, 8), dtype=np.float32)
    u = F.interpolate(torch.from_numpy(coarse), size=(size, size), mode="bilinear", align_corners=False)
    u = (u + 0.1 * torch.from_numpy(rng.random((n, 3, size, size), dtype=np.float32))).clamp_(0, 1)
    mean = torch.tensor(OPENAI_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_STD).view(1, 3, 1, 1)
    return ((u - mean) / std).numpy().astype(np.float32)


def preprocess_image(path: str, size: int) -> torch.Tensor:
    """OpenAI CLIP's `preprocess` (torchvision Resize(size, BICUBIC), CenterCrop(size), RGB,
    ToTensor, Normalize) written with PIL alone: float32 [3, size, size]."""
    from PIL import Image
    img = Image.open(path)
    w, h = img.size
    # torchvision's Resize(int): the short side becomes `size`, the long one is truncated.
    nw, nh = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
    img = img.resize((nw, nh), Image.BICUBIC)
    top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
    img = img.crop((left, top, left + size, top + size)).convert("RGB")
    x = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255.0
    mean = torch.tensor(OPENAI_MEAN, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(OPENAI_STD, dtype=torch.float32).view(3, 1, 1)
    return (x - mean) / std


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

def rss_kb() -> Tuple[int, int]:
    """(current, peak) resident set size of this process in KiB."""
    cur = 0
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    cur = int(line.split()[1])
    except OSError:
        pass
    return cur, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def cmd_bench(a: argparse.Namespace) -> int:
    torch.set_num_threads(a.threads)
    rss_import, _ = rss_kb()
    cfg, _ = resolve_model(a.model, a.arch)
    times: List[float] = []
    result = {"engine": "torch", "torch": torch.__version__, "threads": torch.get_num_threads(),
              "inference_mode": True, "attention": "sdpa" if HAS_SDPA else "bmm+softmax",
              "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS",
                                                      "OMP_NUM_THREADS")},
              "rss_after_import_kb": rss_import}
    if a.task == "load":
        for i in range(a.warmup + a.iters):
            t0 = time.perf_counter()
            model = load_model(a.model, a.arch)
            dt = (time.perf_counter() - t0) * 1e3
            del model
            if i >= a.warmup:
                times.append(dt)
        result["times_ms"] = times
        result["rss_kb"], result["peak_rss_kb"] = rss_kb()
        print(json.dumps(result), flush=True)
        return 0

    model = load_model(a.model, a.arch)
    if a.task == "image":  # the rewrites copy the ResNet's weights: only when the tower runs
        optimize_for_inference(model, a.fuse_bn, a.channels_last)
        result["resnet_fuse_bn"], result["resnet_channels_last"] = a.fuse_bn, a.channels_last
    if a.task == "image":
        if cfg.vision is None:
            raise SystemExit(f"{a.model}: the model has no image tower")
        s = cfg.vision.image_size
        x = np.load(a.images) if a.images else random_images(a.batch, s)
        if x.ndim != 4 or x.shape[1:] != (3, s, s) or x.shape[0] < a.batch or x.dtype != np.float32:
            raise SystemExit(f"{a.images}: need float32 [>={a.batch}, 3, {s}, {s}], got {x.dtype} {list(x.shape)}")
        inp = torch.from_numpy(np.ascontiguousarray(x[:a.batch]))
        fwd = model.encode_image
        result["flops_per_item"] = image_flops(cfg)
    else:
        if cfg.text is None:
            raise SystemExit(f"{a.model}: the model has no text tower")
        x = np.load(a.tokens) if a.tokens else random_tokens(a.batch, context_length=cfg.text.context_length)
        if x.ndim != 2 or x.shape[1] != cfg.text.context_length or x.shape[0] < a.batch:
            raise SystemExit(f"{a.tokens}: need int [>={a.batch}, {cfg.text.context_length}], got {list(x.shape)}")
        inp = torch.from_numpy(np.ascontiguousarray(x[:a.batch]).astype(np.int64))
        fwd = model.encode_text
        result["flops_per_item"] = text_flops(cfg)
    out = None
    with torch.inference_mode():
        for i in range(a.warmup + a.iters):
            t0 = time.perf_counter()
            out = fwd(inp)
            dt = (time.perf_counter() - t0) * 1e3
            if i >= a.warmup:
                times.append(dt)
    if a.dump and out is not None:
        np.save(a.dump, out.float().contiguous().numpy())
    result["times_ms"] = times
    result["rss_kb"], result["peak_rss_kb"] = rss_kb()
    print(json.dumps(result), flush=True)
    return 0


def cmd_embed(a: argparse.Namespace) -> int:
    """Process start to embeddings on disk, as `clipkit embed --image ... -o out.npy` does it."""
    torch.set_num_threads(a.threads)
    model = load_model(a.model, a.arch)
    if model.cfg.vision is None:
        raise SystemExit(f"{a.model}: the model has no image tower")
    optimize_for_inference(model)  # the ResNet rewrites of the benchmark; nothing for a ViT
    pixels = torch.stack([preprocess_image(p, model.cfg.vision.image_size) for p in a.image])
    with torch.inference_mode():
        e = model.encode_image(pixels)
        if not a.unnormalized:
            e = e / e.norm(dim=-1, keepdim=True)
    np.save(a.output, e.float().contiguous().numpy())
    return 0


def cmd_sgemm(a: argparse.Namespace) -> int:
    torch.set_num_threads(a.threads)
    n = a.n
    flop = 2.0 * n ** 3
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    res = {"n": n, "threads": torch.get_num_threads(), "reps": a.reps}

    def best_rate(fn):
        fn()  # warm-up: thread start-up, page faults of the output
        rates = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            fn()
            rates.append(flop / (time.perf_counter() - t0) / 1e9)
        return max(rates), float(np.median(rates))

    with torch.inference_mode():
        res["torch_gflops_best"], res["torch_gflops_median"] = best_rate(lambda: torch.matmul(x, y))
    xn, yn = x.numpy(), y.numpy()
    res["numpy_gflops_best"], res["numpy_gflops_median"] = best_rate(lambda: xn @ yn)
    print(json.dumps(res), flush=True)
    return 0


def cmd_info(a: argparse.Namespace) -> int:
    cfg, weights = resolve_model(a.model, a.arch)
    shapes = expected_tensors(cfg)
    info = {"config": cfg.name, "weights": weights, "embed_dim": cfg.embed_dim, "quick_gelu": cfg.quick_gelu,
            "tensors": len(shapes), "parameters": int(sum(math.prod(s) for s in shapes.values())),
            "text": vars(cfg.text) if cfg.text else None,
            "vision": {**vars(cfg.vision), "heads": cfg.vision.heads, "resnet": cfg.vision.is_resnet}
            if cfg.vision else None}
    if cfg.text:
        info["text_gflops_per_sequence"] = text_flops(cfg) / 1e9
    if cfg.vision:
        info["image_gflops_per_image"] = image_flops(cfg) / 1e9
    print(json.dumps(info, indent=1))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    b = sub.add_parser("bench", help="time the forward pass or the model load (same interface as clipkit bench)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    b.add_argument("--model", required=True, help="OpenCLIP folder or .safetensors file")
    b.add_argument("--arch", help="preset name overriding open_clip_config.json (e.g. ViT-B-32, RN50)")
    b.add_argument("--task", choices=["load", "image", "text"], required=True)
    b.add_argument("--batch", type=int, default=1)
    b.add_argument("--warmup", type=int, default=1, help="untimed iterations first")
    b.add_argument("--iters", type=int, default=5, help="timed iterations")
    b.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    b.add_argument("--images", help="float32 .npy [N,3,S,S] of normalised pixels (random when absent)")
    b.add_argument("--tokens", help="int32 .npy [N,77] of token ids (random when absent)")
    b.add_argument("--dump", help="write the unnormalised embeddings [batch, D] as float32 .npy")
    b.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True,
                   help="run the ResNet tower's convolutions channels-last")
    b.add_argument("--fuse-bn", action=argparse.BooleanOptionalAction, default=True,
                   help="fold the ResNet tower's BatchNorms into its convolutions")
    b.set_defaults(fn=cmd_bench)

    e = sub.add_parser("embed", help="image embeddings to a .npy file (what `clipkit embed --image` does)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    e.add_argument("--model", required=True, help="OpenCLIP folder or .safetensors file")
    e.add_argument("--arch", help="preset name overriding open_clip_config.json")
    e.add_argument("--image", action="append", required=True, help="an image file (repeatable)")
    e.add_argument("-o", "--output", required=True, help="the .npy file to write, [N, D] float32")
    e.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    e.add_argument("--unnormalized", action="store_true", help="write the projections before L2 normalisation")
    e.set_defaults(fn=cmd_embed)

    s = sub.add_parser("sgemm", help="fp32 GEMM rate of torch.matmul and numpy",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--n", type=int, default=4096)
    s.add_argument("--reps", type=int, default=3)
    s.set_defaults(fn=cmd_sgemm)

    i = sub.add_parser("info", help="architecture, parameter count and FLOPs of a model")
    i.add_argument("--model", required=True)
    i.add_argument("--arch")
    i.set_defaults(fn=cmd_info)

    a = p.parse_args(argv)
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
